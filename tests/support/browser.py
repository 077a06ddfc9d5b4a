"""Drive Debian's chromium headless over the DevTools protocol (CDP), with the ``websockets``
package the project already depends on: no selenium, no driver binary.

:class:`Browser` starts chromium on a free loopback debugging port with a fresh profile
and the flags this closed-network machine needs, and stops it by PID. :class:`Page` is
one tab: ``goto``, ``js`` (evaluate and return the value), ``submit`` (fill a form and
wait for the page it leads to) and ``screenshot``.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websockets

from whippet.procs import free_port

__all__ = ["Browser", "Page"]

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-dev-shm-usage", "--window-size=1280,900",
]


class Browser:
    def __init__(self) -> None:
        self.binary = shutil.which("chromium") or shutil.which("chromium-browser")
        assert self.binary, "chromium is not installed (make test installs Debian's chromium)"
        self.port = free_port()
        self.profile = Path(tempfile.mkdtemp(prefix="whippet-chromium-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Browser:
        assert self.binary is not None
        self.proc = subprocess.Popen(
            [self.binary, *FLAGS, f"--remote-debugging-port={self.port}", "--remote-debugging-address=127.0.0.1",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/version", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("chromium did not open its debugging port")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)

    async def new_page(self) -> Page:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        target = json.loads(await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=10).read()))
        page = Page(await websockets.connect(target["webSocketDebuggerUrl"], max_size=None))
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        return page


class Page:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        await self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    async def _load(self, action: Any) -> None:
        """Run ``action`` and wait for the page load it causes."""
        self.events.clear()
        await action
        deadline = time.monotonic() + 30
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError("the page did not load")
            self.events.append(json.loads(await asyncio.wait_for(self.ws.recv(), 30)))

    async def goto(self, url: str) -> None:
        await self._load(self.call("Page.navigate", url=url))

    async def js(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def submit(self, form_id: str, **values: str) -> None:
        """Fill ``form_id``'s fields by name and submit it as a user would (its button)."""
        fill = "".join(
            f"document.querySelector('#{form_id} [name={json.dumps(k)}]').value = {json.dumps(v)};"
            for k, v in values.items()
        )
        await self._load(self.js(f"{fill} document.querySelector('#{form_id} button[type=submit]').click(); true"))

    async def text(self, selector: str) -> str:
        value = await self.js(f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText || ''")
        return str(value)

    @property
    async def url(self) -> str:
        return str(await self.js("location.href"))

    async def screenshot(self, path: Path) -> None:
        data = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))

    async def close(self) -> None:
        await self.ws.close()
