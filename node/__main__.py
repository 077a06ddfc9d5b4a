"""``whippet-node``: start one node and run it until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import sys

from whippet.node.config import ConfigError, NodeConfig, load_config
from whippet.node.ports import check_ports_free

__all__ = ["main", "run"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="whippet-node", description="Run one whippet node.")
    p.add_argument("--config", help="TOML config file")
    p.add_argument("--data-dir", help="where logs and metadata live (default ./data)")
    p.add_argument("--node-id", type=int)
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--tcp-port", type=int)
    p.add_argument("--http-port", type=int)
    p.add_argument("--quic-port", type=int)
    p.add_argument("--ws-port", type=int)
    p.add_argument("--fsync", dest="storage_fsync", choices=["always", "interval", "never"])
    p.add_argument(
        "--with-default-root-credentials",
        action="store_true",
        default=None,
        dest="auth_default_root_credentials",
        help="create the root user as iggy/iggy when it does not exist yet",
    )
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR")
    return p


async def run(config: NodeConfig) -> int:
    """Start a node, serve until a stop signal, shut down cleanly. Returns the exit code."""
    import whippet.node.handlers  # noqa: F401  (registers the handlers)
    from whippet.node.server import Node

    node = Node(config)
    await node.start()
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    stop_wait = loop.create_task(stopping.wait())
    dead_wait = loop.create_task(node.wait_stopped())
    await asyncio.wait([stop_wait, dead_wait], return_when=asyncio.FIRST_COMPLETED)
    if not dead_wait.done():
        logging.getLogger("whippet").info("stopping")
        await node.stop()
    stop_wait.cancel()
    return 1 if node.fatal_error is not None else 0


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k != "config" and v is not None}
    try:
        config = load_config(args.config, overrides)
        check_ports_free(config)
    except ConfigError as exc:
        print(f"whippet-node: {exc}", file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(
        level=config.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    import uvloop

    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            code = runner.run(run(config))
    except ConfigError as exc:  # found at start (e.g. an encryption key that does not open the data)
        print(f"whippet-node: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        # Taken between the check above and the listener's bind: still one line.
        print(f"whippet-node: a port is already in use: {exc.strerror} ({exc})", file=sys.stderr)
        sys.exit(2)
    sys.exit(code)


if __name__ == "__main__":
    main()
