"""Our Python SDK for the Iggy 0.8 binary protocol (asyncio)."""
