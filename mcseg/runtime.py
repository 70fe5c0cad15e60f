"""Process-wide settings for a process that segments mammograms (the CLI, batch workers, the server).

The pipeline allocates and frees arrays of the mammogram's size (54 MB for 3328 x 4084 float32) a
few dozen times per image. glibc's malloc serves every allocation above 32 MB with a fresh mmap and
returns it to the kernel when freed, so each one is paid again in page faults. On this project's
2-core machine (measured 2026-12-07 on the 3328 x 4084 phantom of benchmarks/speed.py, 3 images in
one process): 220,000-290,000 page faults and 5.6-6.9 s of kernel time per image, 14.0-15.7 s in
all; keeping freed memory in the heap gave 16,000-84,000 faults, 1.3-4.3 s and 9.9-12.9 s, for about
10% more peak memory (the heap keeps the largest working set it has had).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

#: mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Allocations below this come from the heap and are reused when freed. Ours: above any array the
#: pipeline makes (a 0.05 mm film in the working frame is about 200 MB of float32).
MMAP_THRESHOLD_BYTES = 1 << 30
#: Freed memory at the top of the heap is returned to the kernel only beyond this.
TRIM_THRESHOLD_BYTES = (1 << 31) - 1

_done = False


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to reuse freed memory for large arrays instead of unmapping it. Once per
    process; False (and nothing changed) where the C library is not glibc."""
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        log.debug("no glibc mallopt here: large arrays stay on the allocator's defaults")
        return False
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    return _done
