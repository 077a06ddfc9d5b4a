"""The command table against the protocol reference's list of codes."""

from __future__ import annotations

from whippet.wire import codes
from whippet.wire.table import COMMAND_TABLE, command_name

# §3 of the protocol reference, in order.
REFERENCE_CODES = [
    1, 10, 11, 12, 20, 21, 22, 31, 32, 33, 34, 35, 36, 37, 38, 39, 41, 42, 43, 44,
    100, 101, 102, 120, 121, 122, 200, 201, 202, 203, 204, 205,
    300, 301, 302, 303, 304, 305, 402, 403, 503, 600, 601, 602, 603, 604, 605,
]  # fmt: skip
# whippet's own commands, past Iggy's table (a 0.8 server answers them with InvalidCommand).
WHIPPET_CODES = [9001, 9002, 9003, 9004, 9005, 9006, 9007]


def test_table_holds_exactly_the_reference_codes_and_ours() -> None:
    assert sorted(COMMAND_TABLE) == REFERENCE_CODES + WHIPPET_CODES
    constants = {v for k, v in vars(codes).items() if k.isupper()}
    assert constants == set(REFERENCE_CODES + WHIPPET_CODES)


def test_undefined_codes_are_absent() -> None:
    for code in (0, 2, 400, 401, 500, 501, 502, 606, 9999):
        assert code not in COMMAND_TABLE
        assert command_name(code) == "unknown"


def test_entries_are_consistent() -> None:
    names = [spec.name for spec in COMMAND_TABLE.values()]
    assert len(set(names)) == len(names)
    for code, spec in COMMAND_TABLE.items():
        assert spec.code == code
        if spec.request is None:  # parsed by wire.batch
            assert code in (codes.SEND_MESSAGES, codes.SEND_MESSAGES_APPENDED)
        elif code == codes.POLL_MESSAGES_V09:  # a PollMessages payload, answered in the 0.9 layout
            assert spec.request.CODE == codes.POLL_MESSAGES
        else:
            assert spec.request.CODE == code


def test_only_ping_and_logins_skip_authentication() -> None:
    open_codes = {c for c, s in COMMAND_TABLE.items() if not s.needs_auth}
    assert open_codes == {codes.PING, codes.LOGIN_USER, codes.LOGIN_WITH_PERSONAL_ACCESS_TOKEN}


def test_replicated_flags() -> None:
    assert COMMAND_TABLE[codes.CREATE_STREAM].replicated
    assert COMMAND_TABLE[codes.JOIN_CONSUMER_GROUP].replicated
    assert COMMAND_TABLE[codes.CREATE_PERSONAL_ACCESS_TOKEN].replicated
    assert COMMAND_TABLE[codes.CHANGE_PASSWORD].replicated
    for code in (
        codes.PING,
        codes.LOGIN_USER,
        codes.POLL_MESSAGES,
        codes.SEND_MESSAGES,
        codes.GET_STREAM,
        codes.STORE_CONSUMER_OFFSET,
        codes.FLUSH_UNSAVED_BUFFER,
    ):
        assert not COMMAND_TABLE[code].replicated
    assert COMMAND_TABLE[codes.CREATE_TOPIC].name == "topic.create"


def test_logins_and_repeatable_commands() -> None:
    logins = {c for c, s in COMMAND_TABLE.items() if s.login}
    assert logins == {codes.LOGIN_USER, codes.LOGIN_WITH_PERSONAL_ACCESS_TOKEN}
    repeatable = {c for c, s in COMMAND_TABLE.items() if s.repeatable}
    # Every read of 0.8's table, the logins, and the writes whose repeat is harmless.
    assert repeatable == logins | {
        codes.PING, codes.GET_STATS, codes.GET_CLUSTER_METADATA, codes.GET_ME, codes.GET_CLIENT,
        codes.GET_CLIENTS, codes.GET_USER, codes.GET_USERS, codes.GET_PERSONAL_ACCESS_TOKENS,
        codes.POLL_MESSAGES, codes.SEND_MESSAGES, codes.FLUSH_UNSAVED_BUFFER,
        codes.GET_CONSUMER_OFFSET, codes.STORE_CONSUMER_OFFSET, codes.GET_STREAM, codes.GET_STREAMS,
        codes.GET_TOPIC, codes.GET_TOPICS, codes.GET_CONSUMER_GROUP, codes.GET_CONSUMER_GROUPS,
        codes.JOIN_CONSUMER_GROUP,
        # whippet's own: reads, and the send that reports offsets (its messages carry ids,
        # so with deduplication, on by default, a repeat stores nothing twice)
        codes.GET_PARTITION_LEADERS, codes.GET_TOPIC_ACK, codes.SEND_MESSAGES_APPENDED,
        codes.GET_PARTITION_STATES, codes.GET_CONSUMER_ASSIGNMENT,
    }
    for code in (codes.CREATE_STREAM, codes.DELETE_TOPIC, codes.LOGOUT_USER, codes.SET_TOPIC_ACK):
        assert not COMMAND_TABLE[code].repeatable
