"""Batch processes keep the memory they free (adapters/memory.py); servers do not."""

from __future__ import annotations

import subprocess
import sys

import pytest

from omnix.adapters.memory import glibc
from omnix.entrypoints.cli.app import keeps_freed_memory

# Frees a 256 MB array, then counts the page faults of making another one: pages the process
# kept fault no more; pages handed back to the kernel fault again (128 huge or 65,536 small).
_PROBE = """
import resource, sys
import numpy as np
if sys.argv[1] != "default":
    from omnix.adapters.memory import keep_freed_memory
    if sys.argv[1] == "keep-after-arrow":
        import pyarrow
    assert keep_freed_memory()
    import pyarrow as pa
    assert pa.default_memory_pool().backend_name == "system"
a = np.ones(1 << 25)
del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
b = np.ones(1 << 25)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True,
                         check=True)  # fmt: skip
    return int(out.stdout.strip())


@pytest.mark.skipif(not glibc(), reason="the allocator tuned is glibc's")
def test_freed_memory_is_reused_without_page_faults() -> None:
    assert _faults("default") >= 64
    assert _faults("keep") < 16
    assert _faults("keep-after-arrow") < 16  # pyarrow imported first: its pool is set anew


def test_batch_commands_keep_freed_memory_servers_and_ingest_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert keeps_freed_memory("recommend") and keeps_freed_memory("generate")
    assert not keeps_freed_memory("serve") and not keeps_freed_memory("demo")
    assert not keeps_freed_memory("ingest")  # streaming: bounded memory, kept it grows
    assert not keeps_freed_memory(None)
    monkeypatch.setenv("OMNIX_KEEP_FREED_MEMORY", "0")
    assert not keeps_freed_memory("recommend")
