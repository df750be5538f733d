"""What a batch process does with the memory it frees: keep it for its own next arrays.

A batch job (a refit of the recommendations, say) makes and drops thousands of arrays of tens
to hundreds of MB. By default glibc gives every block over 32 MB back to the kernel when it is
freed (an `munmap`), and pyarrow's mimalloc purges the pages it frees soon after. The next
array then gets fresh pages that the kernel must zero, and on a virtual machine that reports
free pages to its host (virtio-balloon free page reporting, as on this project's CI machines)
the host must first map them again: a 1 GB `np.ones` took 2.7 s there, 0.14 s when the kernel
handed out pages it had just been given back. In the 100k-customer refit, zeroing pages was
20 % of all CPU samples (docs/DECISIONS_LOG.md).

`keep_freed_memory` makes glibc serve large blocks from its heap (no `mmap`), never trim the
heap, use one arena for every thread (a thread's own arena is trimmed apart), and points
pyarrow at the same allocator. Freed memory then stays in the process and is reused; the
process's peak RSS is about what it was, but RSS no longer falls after a peak, so only
short-lived processes should ask for it (the CLI does, except for commands that serve and for
`ingest`: a 10.6M-line CSV peaked 0.3 GB higher with it, no faster).
"""

from __future__ import annotations

import ctypes
import os
import sys

import structlog

log = structlog.get_logger(__name__)

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_NEVER = 2**31 - 1  # the largest trim threshold mallopt takes (an int)


def glibc() -> bool:
    """Whether this process runs on glibc (the only allocator tuned here)."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError, AttributeError):  # not a GNU system
        return False


def keep_freed_memory() -> bool:
    """Keep the memory this process frees for its own reuse (see the module docstring);
    True when it took effect, False where the allocator is not glibc's."""
    if not glibc():
        return False
    libc = ctypes.CDLL(None)
    settings = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _NEVER), (_M_ARENA_MAX, 1))
    if [libc.mallopt(param, value) for param, value in settings] != [1] * len(settings):
        log.warning("mallopt refused a setting; freed memory goes back to the kernel")
        return False
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:  # a pool the user chose stays
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"  # read when pyarrow first allocates
        if "pyarrow" in sys.modules:  # too late for that: set it (no import just for this)
            import pyarrow as pa

            pa.set_memory_pool(pa.system_memory_pool())
    return True
