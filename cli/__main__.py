"""``whippet``: the command line client (Iggy CLI command tree, whippet connection flags).

Exit codes scripts can rely on (also in ``whippet --help`` and docs/CLI.md):

====  ==========================================================
0     success
1     the node refused the command (any other error status)
2     bad usage: unknown command, missing or malformed argument
3     cannot reach a node, or the connection was lost
4     not authenticated, bad credentials, or not allowed
5     the stream/topic/partition/group/user/... does not exist
130   interrupted (Ctrl-C)
====  ==========================================================

Errors are one line on stderr (``error: <what> (<status name> <code>)``); a
traceback is printed only with ``WHIPPET_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import traceback

from whippet.cli import _commands_admin, _commands_cluster  # noqa: F401  (register their commands)
from whippet.cli._commands import COMMANDS
from whippet.cli._output import Printer
from whippet.cli._parser import build_parser
from whippet.cli.completion import SCRIPTS
from whippet.sdk import Client
from whippet.sdk.errors import FAMILIES, AuthError, NotFoundError, TransportError, error_class
from whippet.sdk.options import (
    Backoff,
    ClientSettings,
    Credentials,
    TlsOptions,
    Transport,
    parse_address,
)
from whippet.wire.errors import (
    CannotEstablishConnection,
    ClientShutdown,
    ConnectionClosed,
    IggyError,
    NotConnected,
)

__all__ = ["EXIT_AUTH", "EXIT_CONNECTION", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_REFUSED", "EXIT_USAGE", "main"]

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_CONNECTION, EXIT_AUTH, EXIT_NOT_FOUND = 0, 1, 2, 3, 4, 5
_CONNECTION_ERRORS = (CannotEstablishConnection, ConnectionClosed, NotConnected, ClientShutdown)


def exit_code(exc: IggyError) -> int:
    """The exit code of a failure, by its family (``whippet.sdk.errors`` decides the families)."""
    cls = error_class(exc.status) if type(exc) is IggyError or not isinstance(exc, FAMILIES) else type(exc)
    if isinstance(exc, _CONNECTION_ERRORS) or issubclass(cls, TransportError):
        return EXIT_CONNECTION
    if issubclass(cls, AuthError):
        return EXIT_AUTH
    if issubclass(cls, NotFoundError):
        return EXIT_NOT_FOUND
    return EXIT_REFUSED


def make_client(a: argparse.Namespace) -> Client:
    settings: ClientSettings = {"connect_timeout": a.timeout, "request_timeout": max(30.0, a.timeout)}
    # A CLI call should fail fast when nothing answers: a few quick retries, not the SDK's patience.
    backoff = Backoff(initial=0.1, maximum=0.5, retries=2)
    if a.connection_string:
        client = Client.from_connection_string(a.connection_string, backoff=backoff, **settings)
        if a.username or a.token:  # flags win over the string's credentials
            creds = Credentials(a.username or "", a.password or "", a.token or "")
            client.options = dataclasses.replace(client.options, credentials=creds)
        return client
    transport: Transport = "ws" if a.transport == "websocket" else a.transport
    if a.nodes:
        nodes = [n for n in a.nodes.split(",") if n.strip()]
    elif transport == "quic":
        nodes = [a.quic_server_address or "127.0.0.1:8080"]
    elif transport == "ws":
        nodes = [a.websocket_server_address or "127.0.0.1:8092"]
    else:
        nodes = [a.tcp_server_address or "127.0.0.1:8090"]
    for n in nodes:
        parse_address(n)  # a malformed address is a usage error, reported before connecting
    tls = TlsOptions(enabled=a.tls, domain=a.tls_domain, ca_file=a.tls_ca_file, validate_certificate=not a.tls_insecure)
    return Client(nodes, username=a.username or "", password=a.password or "", token=a.token or "",
                  transport=transport, tls=tls, backoff=backoff, **settings)


async def _run(a: argparse.Namespace, out: Printer) -> None:
    client = make_client(a)
    try:
        await client.connect()
        await COMMANDS[a.cmd](client, a, out)
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.cmd == "completion":
        sys.stdout.write(SCRIPTS[a.shell](parser))
        return EXIT_OK
    out = Printer("json" if a.output == "json" else a.output, quiet=a.quiet)
    try:
        asyncio.run(_run(a, out))
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except IggyError as exc:
        if os.environ.get("WHIPPET_DEBUG"):
            traceback.print_exc()
        print(f"error: {exc.reason} ({exc.name} {exc.status})", file=sys.stderr)
        return exit_code(exc)
    except ValueError as exc:  # a value only the command itself can check
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONNECTION
    return EXIT_OK


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
