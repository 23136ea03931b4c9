"""Lets the CPU reuse freed large buffers instead of faulting in fresh pages for each one.

An AIHT update allocates and frees tensors of tens of MB several times (the support's columns,
products of the whole batch). glibc serves every allocation above 32 MB with a fresh mmap and
returns it on free, so each one faults its pages in again: about 10 ms per 40 MB on a 2-core
machine, a sixth of a Figure 1 point. With mmap off and trimming deferred, freed buffers stay in
the heap and are reused. Between grid points the free pages go back to the system, so a sweep
holds no more than its largest point needs. Elsewhere than glibc this does nothing.
"""

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def keep_freed_memory() -> bool:
    """Sets glibc's malloc to keep freed memory for reuse; whether it could."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


def release_freed_memory() -> None:
    """Gives the heap's free pages back to the system (after a grid point)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
