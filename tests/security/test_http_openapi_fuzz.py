"""Property-based test of the HTTP API against its own OpenAPI description (schemathesis).

Requests are generated from /openapi.json of a live node, valid ones and invalid
ones, for every operation, with path ids sometimes replaced by ids that exist so
the handlers behind the 404s run too. For each request: no 5xx, and when the
node rejects it (4xx), the observable state (streams with their topics and
groups, users with their permissions, tokens) is exactly what it was before.

Twice: as root (every handler runs), and as a user without any permission (part of
the security suite, docs/SECURITY.md), whose requests may change nothing at all but
its own tokens and password, which the generated requests cannot reach here (the
token routes act on the caller's own tokens, read as root; a password change needs
the current password).
"""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.integration.test_http_basics import http_node  # noqa: F401  (fixture)

#: ids that exist after setup, per path parameter name
_KNOWN: dict[str, list[Any]] = {
    "stream_id": ["fz", "0"],
    "topic_id": ["t", "0"],
    "group_id": ["g", "0"],
    "partition_id": [0, 1],
    "user_id": ["fuzzer", "1"],
    "name": ["fuzz-pat"],
    "consumer_id": ["1", "reader"],
    "client_id": [0, 1],
    "fsync": ["true", "false"],
}
#: more examples for a deeper run, e.g. WHIPPET_HTTP_FUZZ_EXAMPLES=2000 (the suite uses 100)
_EXAMPLES = int(os.environ.get("WHIPPET_HTTP_FUZZ_EXAMPLES", "100"))
#: logout would revoke the token the test itself uses
_SKIPPED = {("DELETE", "/users/logout")}


class _Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        login = self.http.post(f"{base}/users/login", json={"username": "iggy", "password": "iggy"}, timeout=10)
        login.raise_for_status()
        self.auth = {"Authorization": f"Bearer {login.json()['access_token']['token']}"}

    def get(self, path: str) -> Any:
        r = self.http.get(self.base + path, headers=self.auth, timeout=10)
        assert r.status_code in (200, 404), (path, r.status_code, r.text)
        return r.json() if r.status_code == 200 else None

    def send(self, method: str, path: str, body: Any) -> None:
        r = self.http.request(method, self.base + path, json=body, headers=self.auth, timeout=10)
        assert r.status_code < 300, (method, path, r.status_code, r.text)

    def state(self) -> Any:
        """Everything a rejected request must leave as it was."""
        streams = []
        for s in self.get("/streams") or []:
            details = self.get(f"/streams/{s['id']}")
            topics = []
            for t in (details or {}).get("topics", []):
                base = f"/streams/{s['id']}/topics/{t['id']}"
                topics.append((self.get(base), self.get(base + "/consumer-groups"),
                               self.get(base + "/consumer-offsets?consumer_id=reader&partition_id=0")))
            streams.append((details, topics))
        users = [self.get(f"/users/{u['id']}") for u in self.get("/users") or []]
        return streams, users, self.get("/personal-access-tokens")


def _setup(api: _Api) -> None:
    api.send("POST", "/streams", {"name": "fz"})
    api.send("POST", "/streams/fz/topics", {"name": "t", "partitions_count": 2, "compression_algorithm": "none",
                                             "message_expiry": 0, "max_topic_size": 0, "replication_factor": None})
    api.send("POST", "/streams/fz/topics/t/messages", {
        "partitioning": {"kind": "balanced", "value": ""},
        "messages": [{"payload": base64.b64encode(b"m%d" % i).decode()} for i in range(4)]})
    api.send("POST", "/streams/fz/topics/t/consumer-groups", {"name": "g"})
    api.send("PUT", "/streams/fz/topics/t/consumer-offsets", {"consumer_id": "reader", "partition_id": 0, "offset": 0})
    api.send("POST", "/users", {"username": "fuzzer", "password": "fuzzer", "status": "active",
                                "permissions": {"global": {"read_streams": True}, "streams": None}})
    api.send("POST", "/personal-access-tokens", {"name": "fuzz-pat", "expiry": 0})
    api.send("POST", "/users", {"username": "nobody", "password": "nobody-pw", "status": "active",
                                "permissions": None})


def _token(api: _Api, username: str, password: str) -> dict[str, str]:
    login = api.http.post(f"{api.base}/users/login", json={"username": username, "password": password}, timeout=10)
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']['token']}"}


@pytest.mark.timeout(120 + _EXAMPLES // 10)
@pytest.mark.parametrize("caller", ["root", "no permissions"])
def test_no_5xx_and_rejected_requests_change_nothing(http_node, caller: str) -> None:  # noqa: F811
    base = f"http://127.0.0.1:{http_node.http_port}"
    api = _Api(base)
    if api.get("/users/nobody") is None:  # the node is shared by the two callers' runs
        _setup(api)
    auth = api.auth if caller == "root" else _token(api, "nobody", "nobody-pw")
    schema = schemathesis.openapi.from_dict(api.http.get(base + "/openapi.json", timeout=10).json())
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if (op.method.upper(), op.path) not in _SKIPPED]
    assert len(operations) >= 45
    cases = st.one_of([op.as_strategy(mode) for op in operations for mode in GenerationMode])
    seen: dict[int, int] = {}

    @settings(max_examples=_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=cases, use_known_ids=st.booleans(), data=st.data())
    def check(case: schemathesis.Case, use_known_ids: bool, data: st.DataObject) -> None:
        if use_known_ids and case.path_parameters:
            for name in case.path_parameters:
                case.path_parameters[name] = data.draw(st.sampled_from(_KNOWN[name]))
        before = api.state()
        response = case.call(base_url=base, session=api.http, headers=auth, timeout=10)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text)
        if response.status_code >= 400 or caller != "root":
            assert api.state() == before, (case.method, case.formatted_path, response.status_code, response.text)

    check()
    # The run exercised both outcomes, not only rejections.
    assert any(200 <= s < 300 for s in seen) and any(400 <= s < 500 for s in seen), seen
    if caller != "root":
        assert 403 in seen, seen
    report = os.environ.get("WHIPPET_HTTP_FUZZ_REPORT")  # the figures of docs/SECURITY.md
    if report:
        with open(report, "a") as out:
            out.write(f"{caller}: {len(operations)} operations, {sum(seen.values())} requests, "
                      f"statuses {dict(sorted(seen.items()))}\n")
