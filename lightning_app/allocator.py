"""Lets the CPU reuse freed large buffers instead of faulting in fresh pages for each one.

An AIHT update allocates and frees tensors of tens of MB several times (the support's columns,
products of the whole batch). glibc serves every allocation above 32 MB with a fresh mmap and
returns it on free, so each one faults its pages in again: about 10 ms per 40 MB on a 2-core
machine, a sixth of a Figure 1 point. With mmap off and trimming deferred, freed buffers stay in
the heap and are reused. The process keeps its peak memory until it ends, which a sweep's
process does anyway. Elsewhere than glibc this does nothing.
"""

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Sets glibc's malloc to keep freed memory for reuse; whether it could."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
