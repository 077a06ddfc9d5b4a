"""docs/SECURITY.md publishes the permission table of the oracle the matrix runs, verbatim."""

from __future__ import annotations

from pathlib import Path

from tests.security.permission_matrix import COMMANDS, expected
from tests.security.permission_rules import DEPARTURES
from tests.security.security_doc import matrix_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "SECURITY.md"


def test_the_published_permission_table_is_the_oracles() -> None:
    assert matrix_table(expected()) in DOC.read_text(), "regenerate the table: tests/security/security_doc.py"


def test_every_command_of_the_table_is_in_the_matrix_and_each_departure_is_explained() -> None:
    from whippet.wire.table import COMMAND_TABLE

    missing = set(COMMAND_TABLE) - {c.code for c in COMMANDS}
    assert missing == set(), f"commands the matrix does not run: {missing}"
    text = DOC.read_text()
    for name in DEPARTURES:
        assert f"`{name}`" in text
