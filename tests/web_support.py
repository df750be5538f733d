"""The dashboard served over real HTTP (uvicorn in a thread) on a copy of the analysed test
store, one API key per role, and Chromium driven by Playwright (tests/e2e/test_web_*)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnix.bootstrap import Container
from omnix.domain.access import Role
from tests.backends import StoreRef

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("OMNIX_CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
# shared/DEPENDENCIES.md: what Debian's chromium needs here (no sandbox as root, no network)
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
WIDTHS = (360, 1280)


@dataclass
class LiveServer:
    url: str
    container: Container
    keys: dict[Role, str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def live_server(container: Container) -> Iterator[LiveServer]:
    import uvicorn

    from omnix.entrypoints.api.app import create_app

    keys = {role: container.keys_service().create(role, f"web {role}")[1] for role in Role}
    port = free_port()
    config = uvicorn.Config(
        create_app(container), host="127.0.0.1", port=port, log_level="warning",
        access_log=False, lifespan="on",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="web-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", container, keys)
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def served_copy(template: StoreRef, root: Path) -> Iterator[LiveServer]:
    """A live server on a copy of `template` under `root` (dropped afterwards), with
    personalization granted by default so the replenishment board has rows to show."""
    from tests.api_support import opened

    store = template.copy(root / "store")
    try:
        with opened(store, default_consent="granted") as container, live_server(container) as live:
            yield live
    finally:
        store.drop()


@contextmanager
def browser(home: Path) -> Iterator[Any]:
    """Debian's Chromium through Playwright, its profile and caches under `home`."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh")
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env=env, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


def sign_in(page: Any, server: LiveServer, role: Role) -> None:
    page.goto(f"{server.url}/sign-in")
    page.fill("#f-key", server.keys[role])
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the page as it is now (WCAG 2.0-2.2 A/AA
    rules and best practices)."""
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: run `npm ci`")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document, {resultTypes: ['violations'],
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                             'wcag22aa', 'best-practice']}});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]
