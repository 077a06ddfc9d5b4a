"""The web console: cluster health, streams, topics and partitions, a message browser,
consumer groups with lag, users and tokens, served by every node at ``/console/``.

Server-rendered HTML (no script, no CDN, one inline stylesheet), read through the
same wire commands and permission checks as every client (``views``), as the
logged-in user (``session``). ``http_console`` = ``read-only`` (the default) shows;
``read-write`` adds forms to create streams and topics and send messages;
``off`` serves nothing. Modules: ``html`` (escaping and markup), ``session``
(login cookie, form tokens, running commands), ``views`` (the data), ``pages``
(the handlers). docs/CONSOLE.md has screenshots.
"""

from whippet.node.http.console.pages import Console, add_console

__all__ = ["Console", "add_console"]
