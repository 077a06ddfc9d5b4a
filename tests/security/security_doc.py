"""The permission table docs/SECURITY.md publishes, made from the oracle (one owner)."""

from __future__ import annotations

from tests.security.permission_matrix import COMMANDS, PRINCIPALS

__all__ = ["matrix_table"]

_SHORT = {"root": "root", "no permissions": "none", "PAT (g.read_streams)": "PAT", "no login": "anon",
          "expired HTTP token (root)": "expired"}


def _column(name: str) -> str:
    return _SHORT.get(name, name.replace("manage_", "m_").replace("read_", "r_").replace("_messages", ""))


def matrix_table(expected: dict[tuple[str, str], bool]) -> str:
    """Markdown: one row per command, one column per principal, ✓ allowed / · refused."""
    head = "| command | rule | " + " | ".join(_column(p.name) for p in PRINCIPALS) + " |"
    rule = "|---|---|" + "---|" * len(PRINCIPALS)
    rows = [head, rule]
    for c in COMMANDS:
        cells = ["✓" if expected[(c.name, p.name)] else "·" for p in PRINCIPALS]
        label = c.rule if c.rule == c.label else f"{c.rule} (0.8: {c.label})"
        rows.append(f"| `{c.name}` | {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
