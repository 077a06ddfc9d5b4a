"""The web console in a real browser (Debian's chromium, headless, over the DevTools protocol):
log in, create a stream and a topic, send a message, see it in the message browser, and
watch a consumer group's lag figure move as the group consumes.

Screenshots of each page are taken on every run; with ``WHIPPET_CONSOLE_SCREENSHOTS=docs/console``
they are also copied there (that is how the ones in docs/CONSOLE.md were made).
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.browser import Browser, Page
from whippet.sdk import Client, ConsumerId


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    browser = Browser().start()
    try:
        p = await browser.new_page()
        yield p
        await p.close()
    finally:
        browser.stop()


async def _shot(page: Page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    await page.screenshot(path)
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 5000
    target = os.environ.get("WHIPPET_CONSOLE_SCREENSHOTS")
    if target:
        shutil.copy(path, Path(target) / path.name)


@pytest.mark.asyncio
async def test_console_end_to_end_in_a_browser(node_factory, page: Page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    node = node_factory(extra_env={"WHIPPET_HTTP_CONSOLE": "read-write"})
    base = f"http://127.0.0.1:{node.http_port}/console"

    await page.goto(f"{base}/")
    assert (await page.url).startswith(f"{base}/login")  # nothing is shown before a login
    await page.submit("login", username="iggy", password="wrong")
    assert "wrong username or password" in await page.text("#error")
    await page.submit("login", username="iggy", password="iggy")
    assert await page.url == f"{base}/"
    assert "1/1" in await page.text("#health") and "whippet-node-1" in await page.text("#nodes")
    await _shot(page, tmp_path, "overview")

    await page.goto(f"{base}/streams")
    await page.submit("create-stream", name="web")
    assert await page.text("#notice") == "stream web created"
    assert "web" in await page.text("#streams")
    await page.goto(f"{base}/streams/web")
    await page.submit("create-topic", name="clicks", partitions="2", replication_factor="0")
    assert await page.text("#notice") == "topic clicks created"

    await page.goto(f"{base}/streams/web/topics/clicks")
    await page.submit("send-message", payload='{"page": "/home", "user": 42}', partition="1")
    assert await page.text("#notice") == "message stored at offset 0 of partition 1"
    partitions = await page.text("#partitions")
    assert "1\t1\t0\t1\t1\t1\t1\t0" in partitions  # partition 1: leader 1, epoch 0, replica 1, in sync, hw 1, end 1

    await page.goto(f"{base}/streams/web/topics/clicks/messages?partition=1&format=json")
    messages = await page.text("#messages")
    assert '"page": "/home"' in messages and '"user": 42' in messages
    await _shot(page, tmp_path, "messages")

    async with Client([node.address], username="iggy", password="iggy") as client:
        await client.create_consumer_group("web", "clicks", "dashboard")
        await page.goto(f"{base}/streams/web/topics/clicks/groups/dashboard")
        assert await page.text("#total-lag") == "1"  # nothing consumed yet
        await page.goto(f"{base}/streams/web/topics/clicks")
        await page.submit("send-message", payload="second", partition="1")
        await page.goto(f"{base}/streams/web/topics/clicks/groups/dashboard")
        assert await page.text("#total-lag") == "2"
        await client.join_consumer_group("web", "clicks", "dashboard")
        await client.store_consumer_offset(ConsumerId.group("dashboard"), "web", "clicks", 1, 0)
        await page.goto(f"{base}/streams/web/topics/clicks/groups/dashboard")
        assert await page.text("#total-lag") == "1"  # the lag moved as the group committed
        assert "0, 1" in await page.text("#members")
        await _shot(page, tmp_path, "group")
        await page.goto(f"{base}/streams/web/topics/clicks")
        await _shot(page, tmp_path, "topic")

    await page.goto(f"{base}/users")
    assert "iggy" in await page.text("#users")
    await page.submit("logout")
    await page.goto(f"{base}/streams")
    assert (await page.url).startswith(f"{base}/login")


def test_read_only_console_refuses_writes_and_anonymous_visitors(node) -> None:  # type: ignore[no-untyped-def]
    """The default mode shows no forms and refuses a forged POST; nothing is served without a login."""
    base = f"http://127.0.0.1:{node.http_port}/console"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    login = urllib.parse.urlencode({"username": "iggy", "password": "iggy", "next": "//evil.example/"}).encode()
    response = opener.open(f"{base}/login", data=login)
    assert response.url == f"{base}/"  # an off-site "next" is ignored
    assert 'id="create-stream"' not in opener.open(f"{base}/streams").read().decode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(f"{base}/streams", data=b"name=x&csrf=whatever")
    assert refused.value.code == 403
    anonymous = urllib.request.build_opener(_NoRedirect())
    with pytest.raises(urllib.error.HTTPError) as redirected:
        anonymous.open(f"{base}/streams")
    assert redirected.value.code == 302 and redirected.value.headers["Location"].startswith("/console/login")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


