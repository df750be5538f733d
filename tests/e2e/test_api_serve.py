"""The API as a user runs it: `omnix demo` ends serving over real HTTP with the key it
printed; `omnix keys` and `omnix privacy` on the command line."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.test_cli import omnix


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_ends_serving_the_api_with_a_demo_key(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIX_")} | {"COLUMNS": "200"}
    args = ["demo", "--data-dir", str(tmp_path / "d"), "--customers", "40", "--days", "90",
            "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "omnix.entrypoints.cli.app", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        out, key = "", None
        deadline = time.monotonic() + 300
        assert proc.stdout is not None
        while time.monotonic() < deadline and "API docs:" not in out:
            line = proc.stdout.readline()
            assert line, f"demo ended early:\n{out}"
            out += line
        key = re.search(r"Demo API key \(admin; shown once\): (omx_\S+)", out)
        assert key and f"http://127.0.0.1:{port}/docs" in out
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {key.group(1)}"}
        segments = httpx.get(f"{base}/v1/segments", headers=auth, timeout=10)
        assert segments.status_code == 200 and segments.json()["customers"] == 40
        assert httpx.get(f"{base}/v1/segments", timeout=10).status_code == 401
        assert httpx.get(f"{base}/docs", timeout=10).status_code == 200
        assert f"Dashboard: {base}/" in out  # and it asks for the key first
        assert httpx.get(f"{base}/", timeout=10).headers["location"].startswith("/sign-in")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert proc.returncode == 0


def test_keys_and_privacy_on_the_command_line(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    assert omnix("demo", "--data-dir", data, "--customers", "20", "--days", "60",
                 "--no-serve").returncode == 0  # fmt: skip
    created = omnix("keys", "create", "--role", "analyst", "--name", "crm", "--data-dir", data,
                    "--json")  # fmt: skip
    key = json.loads(created.stdout)
    assert key["role"] == "analyst" and key["key"].startswith(f"omx_{key['key_id']}_")
    listed = json.loads(omnix("keys", "list", "--data-dir", data, "--json").stdout)
    assert {k["name"] for k in listed} == {"demo", "crm"}
    assert all("key" not in k for k in listed)
    assert omnix("keys", "revoke", key["key_id"], "--data-dir", data).returncode == 0
    bad = omnix("keys", "create", "--role", "boss", "--data-dir", data)
    assert bad.returncode == 2 and "role must be one of" in bad.stderr
    out = tmp_path / "c1.json"
    exported = omnix("privacy", "export", "C000001", "--out", str(out), "--data-dir", data)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(out.read_text())["row_counts"]["transactions"] > 0
    refused = omnix("privacy", "erase", "C000001", "--data-dir", data)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    erased = omnix("privacy", "erase", "C000001", "--yes", "--data-dir", data, "--json")
    assert json.loads(erased.stdout)["rows_deleted"]["transactions"] > 0
    again = omnix("privacy", "export", "C000001", "--data-dir", data)
    assert again.returncode == 3 and "holds nothing" in again.stderr
    check = omnix("openapi", "--check", cwd=Path(__file__).resolve().parents[2])
    assert check.returncode == 0, check.stderr


def _serving(data: Path, *flags: str) -> tuple[subprocess.Popen[str], str]:
    """`omnix serve` on a free port, once it listens: (process, base URL)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIX_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "omnix.entrypoints.cli.app", "serve", "--port", str(port),
         "--data-dir", str(data), *flags],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        assert proc.poll() is None, proc.communicate()[0]
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def _stopped(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, out
    return out


def test_serve_takes_the_consent_default_and_says_when_it_withholds_everyone(
    tmp_path: Path,
) -> None:
    """After `analyze --default-consent granted`, a plain `omnix serve` withheld every due row
    and recommendation (the default is denied) and said nothing about it."""
    data = tmp_path / "d"
    demo = omnix("demo", "--data-dir", str(data), "--customers", "40", "--days", "90",
                 "--no-serve")  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    created = omnix("keys", "create", "--role", "admin", "--json", "--data-dir", str(data))
    auth = {"Authorization": f"Bearer {json.loads(created.stdout)['key']}"}
    due = "/v1/predictions/due?within_days=14&limit=1"
    for flags, shown in (((), False), (("--default-consent", "granted"), True)):
        proc, base = _serving(data, *flags)
        try:
            page = httpx.get(base + due, headers=auth, timeout=30).json()
        finally:
            out = _stopped(proc)
        assert (page["total"] > 0) is shown and (page["withheld"] > 0) is not shown, page
        assert ("no customer has a consent record" in out) is not shown, out
