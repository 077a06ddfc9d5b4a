"""HTML building for the console: a page layout, tables, forms. Everything shown is escaped here.

Plain server-rendered HTML with one inline stylesheet and no script: nothing is
fetched from anywhere at run time, and a page is readable with any browser, curl
or a screen reader. Every value that reaches a page passes through :func:`esc`
(or a helper that calls it); helpers that build markup return :class:`Markup`,
so markup and text cannot be mixed up by accident.
"""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["Markup", "esc", "form", "layout", "link", "table", "url"]


class Markup(str):
    """A string that is already HTML (built by these helpers); never escaped again.
    Adding text to it escapes the text, so ``markup + value`` stays safe."""

    def __add__(self, other: str) -> Markup:
        return Markup(str.__add__(self, other if isinstance(other, Markup) else esc(other)))


def esc(value: Any) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def url(*parts: Any, **query: Any) -> str:
    """``/console/a/b?x=1`` with every path part and query value percent-encoded."""
    path = "/console/" + "/".join(urllib.parse.quote(str(p), safe="") for p in parts)
    q = {k: v for k, v in query.items() if v is not None and v != ""}
    return path + ("?" + urllib.parse.urlencode(q) if q else "")


def link(text: Any, href: str, **attrs: str) -> Markup:
    extra = "".join(f' {k.rstrip("_")}="{esc(v)}"' for k, v in attrs.items())
    return Markup(f'<a href="{esc(href)}"{extra}>{esc(text)}</a>')


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, id: str = "", empty: str = "none") -> Markup:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        body = f'<tr><td colspan="{len(headers)}" class="muted">{esc(empty)}</td></tr>'
    ident = f' id="{esc(id)}"' if id else ""
    return Markup(f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def form(action: str, csrf: str, fields: Sequence[tuple[str, str, str]], submit: str, *, id: str,
         method: str = "post") -> Markup:
    """A form of (name, label, input type or "textarea") fields, with the CSRF token."""
    inputs = []
    for name, label, kind in fields:
        if kind == "textarea":
            control = f'<textarea name="{esc(name)}" id="{esc(id)}-{esc(name)}" rows="3"></textarea>'
        else:
            control = f'<input type="{esc(kind)}" name="{esc(name)}" id="{esc(id)}-{esc(name)}">'
        inputs.append(f"<label>{esc(label)} {control}</label>")
    hidden = f'<input type="hidden" name="csrf" value="{esc(csrf)}">' if csrf else ""
    return Markup(
        f'<form method="{esc(method)}" action="{esc(action)}" id="{esc(id)}">{hidden}{"".join(inputs)}'
        f'<button type="submit">{esc(submit)}</button></form>'
    )


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:.6em 1.2em;display:flex;gap:1.4em;align-items:center}
header a{color:#cfe3ff;text-decoration:none}header b{font-size:1.1em;margin-right:1em}
header .who{margin-left:auto;color:#aab}main{padding:1em 1.4em;max-width:80em}
table{border-collapse:collapse;margin:.4em 0 1.2em;background:#fff}
th,td{border:1px solid #d8dce3;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#eef1f5}td{font-variant-numeric:tabular-nums}
.muted{color:#889}.bad{color:#b3261e;font-weight:600}.ok{color:#1b7f3b;font-weight:600}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{background:#fff;border:1px solid #d8dce3;padding:.6em 1em}
.card b{display:block;font-size:1.6em}form{background:#fff;border:1px solid #d8dce3;padding:.6em 1em;
margin:.4em 0 1.2em;display:flex;gap:.8em;flex-wrap:wrap;align-items:end}label{display:flex;flex-direction:column}
pre{white-space:pre-wrap;word-break:break-all;margin:0;max-width:60em}.error{background:#fde8e7;
border:1px solid #f3b7b2;padding:.5em 1em}.notice{background:#e8f5ea;border:1px solid #b7e0be;padding:.5em 1em}
"""


def layout(title: str, body: Markup, *, user: str | None, mode: str, notice: str = "", error: str = "") -> str:
    nav = ""
    if user is not None:
        nav = (
            f'{link("Cluster", url())}{link("Streams", url("streams"))}{link("Users", url("users"))}'
            f'<span class="who">{esc(user)} · {esc(mode)} · '
            f'<form method="post" action="/console/logout" id="logout" style="display:inline;border:0;padding:0;margin:0;background:none">'
            f'<button type="submit">log out</button></form></span>'
        )
    flash = (f'<p class="notice" id="notice">{esc(notice)}</p>' if notice else "") + (
        f'<p class="error" id="error">{esc(error)}</p>' if error else ""
    )
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)} · whippet</title><style>{_STYLE}</style></head>"
        f"<body><header><b>whippet</b>{nav}</header><main><h1>{esc(title)}</h1>{flash}{body}</main></body></html>"
    )
