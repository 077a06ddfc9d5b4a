"""Leader-to-follower log shipping over gRPC (asyncio)."""
