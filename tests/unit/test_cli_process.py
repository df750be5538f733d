"""The batch commands' process setting: freed memory stays with the process for reuse."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from omnix.entrypoints.cli.common import hold_freed_memory

    held = hold_freed_memory() if sys.argv[1] == "hold" else False
    page = os.sysconf("SC_PAGE_SIZE")

    def resident() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    block = np.ones(256 << 17)  # 256 MB, every page touched
    before = resident()
    del block
    print(held, (before - resident()) >> 20)  # MB handed back to the kernel by the free
    """
)


def _probe(mode: str) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         check=True).stdout.split()  # fmt: skip
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc on Linux")
def test_a_batch_process_keeps_freed_memory_for_its_next_arrays() -> None:
    held, returned = _probe("hold")
    assert held
    assert returned < 16  # the 256 MB stay with the process
    plain, returned_plain = _probe("plain")
    assert not plain
    assert returned_plain > 200  # without it the free unmaps them at once
