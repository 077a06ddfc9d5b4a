"""The server process: config, startup/shutdown, client transports, dispatch.

Concurrency model: asyncio on uvloop, one event loop per process.
"""
