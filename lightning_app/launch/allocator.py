"""Lets the CPU reuse freed large buffers instead of faulting in fresh pages for each one.

An AIHT update allocates and frees tensors of tens of MB several times (the support's columns,
products of the whole batch). glibc serves every allocation above 32 MB with a fresh mmap and
returns it on free, so each one faults its pages in again: about 10 ms per 40 MB on a 2-core
machine, a sixth of a Figure 1 point. With mmap off and trimming deferred, freed buffers stay in
the heap and are reused. Between grid points the finished point's objects are collected and the
free pages go back to the system, so a sweep holds no more than its largest point needs.
Elsewhere than glibc only the collecting is done.

The cycle collector also costs time at start-up: loading Lightning, torch and their libraries
creates a few hundred thousand objects and almost no cyclic garbage, yet each full collection
while they load walks all of them (about 0.5 s of the 4–6 s import on a 2-core machine). So
``cli.py`` turns the collector off while it imports, and ``keep_freed_memory`` freezes what was
loaded and turns it back on before any work.
"""

import ctypes
import ctypes.util
import functools
import gc
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


@functools.cache
def _glibc():
    """glibc, loaded once (finding it runs ldconfig: milliseconds a call), or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def keep_freed_memory() -> bool:
    """Sets glibc's malloc to keep freed memory for reuse; whether it could. Also moves the
    objects loaded so far (the imported libraries) out of the cycle collector's sight, so that
    collecting after each grid point only looks at that point's objects, and turns the collector
    on (``cli.py`` starts with it off)."""
    gc.freeze()
    gc.enable()
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


def release_freed_memory() -> None:
    """Frees a finished grid point's objects and gives the heap's free pages back to the system.

    Lightning's objects hold each other in reference cycles, so a point's tensors would wait for
    the cycle collector, and points piled up (a Figure 1 panel reached 8.8 GB)."""
    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
