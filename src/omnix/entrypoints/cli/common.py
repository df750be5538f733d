"""What every command shares: the --data-dir and --json options, settings, date parsing."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="OMNIX_DATA_DIR",
        help="Directory of the store (default ./omnix-data).",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
DEFAULT_DIR = Path("omnix-data")


def settings_for(data_dir: Path) -> Any:
    """Settings from the environment, with --data-dir when it was given."""
    from omnix.config import Settings

    overrides: dict[str, Any] = {}
    if data_dir != DEFAULT_DIR:
        overrides["data_dir"] = data_dir
    return Settings(**overrides)


def hold_freed_memory() -> bool:
    """For a batch command's process: glibc's malloc keeps what the process frees for its own
    next allocations instead of handing it back to the kernel. Model fitting and scoring free
    and re-allocate gigabytes of NumPy arrays; each large array was its own mmap, returned on
    free, and the next one was zero-filled afresh by the kernel, slowly on a virtual machine
    whose host had taken the freed pages back (`recommend --all` on 100k customers: 32-33 s
    of system time, 15.5-16 s with this; the same user time; docs/DECISIONS_LOG.md). The
    process's memory then stays at its peak until it exits, so servers do not call this.
    False (and nothing changed) where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_top_pad, m_mmap_max, m_arena_max = -1, -2, -4, -8
    settings = (
        (m_mmap_max, 0),  # every block from the heap, none mmap'ed (and unmapped on free)
        (m_trim_threshold, -1),  # the largest size_t: never shrink the heap
        (m_top_pad, 256 << 20),  # grow it 256 MB at a time
        (m_arena_max, 1),  # one heap for every thread: blocks freed by one serve the others
    )
    return all(mallopt(param, value) == 1 for param, value in settings)


def progress_enabled(as_json: bool) -> bool:
    return not as_json and sys.stderr.isatty()


def parse_date(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        from omnix.domain.errors import ConfigError

        raise ConfigError(f"{flag} expects YYYY-MM-DD, got {value!r}") from None
