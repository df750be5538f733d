from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("OMNIX_"):
            monkeypatch.delenv(key)


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI needs ../shared/data beside the project")
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="session")
def api_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An analysed demo store (60 customers, with rejected rows), built once per session."""
    from tests.api_support import build_store

    return build_store(tmp_path_factory.mktemp("api-template"))


@pytest.fixture
def api_store(api_template: Path, tmp_path: Path) -> Path:
    """A private copy of the template store for a test that writes."""
    from tests.api_support import copy_store

    return copy_store(api_template, tmp_path / "store")
