"""Files read within bounds: a regular file only (never a FIFO, a device or a folder, and never
through a symlink loop), and never more than a stated number of bytes, so that a hostile or
damaged file can neither hang a reader nor fill its memory."""

import errno
import os
import stat
from pathlib import Path


class UnreadableFile(OSError):
    """A file that is not a regular file within its size limit; the message says which and why."""


def regular_file_size(path: Path) -> int:
    """The size of ``path`` if it is (or a symlink resolves to) a regular file; else UnreadableFile."""
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnreadableFile(f"{path} is a symlink loop") from None
        raise UnreadableFile(f"{path} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFile(f"{path} is {_kind(info.st_mode)}, not a regular file")
    return info.st_size


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them; UnreadableFile otherwise.

    Opened without blocking (a FIFO opened for reading would wait for a writer) and checked on
    the open descriptor, so that a file swapped after a first look is still caught.
    """
    regular_file_size(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UnreadableFile(f"{path} cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(f"{path} is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise UnreadableFile(f"{path} holds {info.st_size} bytes, more than the {limit} allowed")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UnreadableFile(f"{path} holds more than the {limit} bytes allowed")
    return data


def _kind(mode: int) -> str:
    kinds = {
        stat.S_ISDIR: "a folder",
        stat.S_ISFIFO: "a FIFO (named pipe)",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    return next((name for test, name in kinds.items() if test(mode)), "not a regular file")
