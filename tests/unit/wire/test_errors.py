"""The error table: one class per named code, the behaviour flags each code carries."""

from __future__ import annotations

import pytest

from whippet.wire import errors
from whippet.wire.errors import CODE_NAMES, IggyError, NotLeader, StreamIdNotFound

CLASSES = [
    obj for obj in vars(errors).values()
    if isinstance(obj, type) and issubclass(obj, IggyError) and obj is not IggyError
]


def _codes_with(flag: str) -> set[int]:
    return {cls.code for cls in CLASSES if getattr(cls, flag)}


def test_every_class_is_the_class_of_its_code() -> None:
    assert len({cls.code for cls in CLASSES}) == len(CLASSES)
    for cls in CLASSES:
        assert cls.code in CODE_NAMES, cls
        assert IggyError.for_code(cls.code) is cls
        exc = IggyError.from_code(cls.code, "why")
        assert type(exc) is cls and exc.status == cls.code and exc.reason == "why"
        assert cls.__doc__ and cls.__name__ in errors.__all__


def test_an_unnamed_code_round_trips_with_every_flag_false() -> None:
    exc = IggyError.from_code(1010)  # stream_name_not_found: in the table, no class
    assert type(exc) is IggyError and exc.status == 1010 and exc.name == "stream_name_not_found"
    assert IggyError.for_code(1010) is IggyError
    assert not (exc.retriable or exc.closes_connection or exc.not_found or exc.forbidden)
    assert IggyError.from_code(424242).name == "error"


@pytest.mark.parametrize(
    ("flag", "codes"),
    [
        # Our SDK waits out a failover on these: metadata not committed in time, not the
        # partition's leader, the ack quorum not reached.
        ("retriable", {12001, 12010, 12011}),
        # StaleClient and ClientNotFound: the node closes the connection after the status.
        ("closes_connection", {30, 100}),
        # 0.8's HTTP layer (core/server/src/http/error.rs): 404, 401 and 403 families.
        ("not_found", {20, 100, 1009, 2010, 3007, 3021, 4000, 5000, 5003, 5006}),
        ("unauthenticated", {40, 53, 77, 78}),
        ("forbidden", {41}),
        ("login_refused", {42, 43, 44, 47, 54}),
    ],
)
def test_flags_mark_exactly_their_codes(flag: str, codes: set[int]) -> None:
    assert _codes_with(flag) == codes


def test_flags_are_class_attributes_readable_on_instances() -> None:
    exc = NotLeader("moved")
    assert exc.retriable and not exc.not_found and repr(exc) == "NotLeader(status=12010, reason='moved')"
    assert StreamIdNotFound("s").not_found and not StreamIdNotFound.retriable


def test_a_second_class_for_a_code_is_refused() -> None:
    with pytest.raises(TypeError, match="12010 already has NotLeader"):
        type("AnotherNotLeader", (IggyError,), {"code": 12010})
