"""How a sweep stops early, in one line each: interrupted (Ctrl-C: SIGINT, or SIGTERM), or out
of a resource (no space left, no memory, a read-only or forbidden folder).

The signals raise ``Interrupted``, which is not a ``KeyboardInterrupt``: Lightning turns that one
into ``exit(1)`` inside ``Trainer.fit``, while any other exception it re-raises after its own
teardown. The exit status is 128 + the signal's number (130 and 143), as shells expect.
"""

import errno
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: errno → what it means to the user
RESOURCE_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.ENOMEM: "out of memory",
}


class Interrupted(BaseException):
    """The sweep got ``signum``; ``phase`` says what it was doing (set where it is known)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum, self.phase, self.kept = signum, "while starting", ""

    @property
    def status(self) -> int:
        return 128 + self.signum

    def line(self, resume: str) -> str:
        kept = f"{self.kept}; " if self.kept else ""
        return f"interrupted by {self.args[0]} {self.phase}: {kept}resume with: {resume}"


class ResourceStop(Exception):
    """The sweep ran out of a resource; the message names it, the path and the phase."""


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """While inside, SIGINT and SIGTERM raise ``Interrupted`` in the main thread."""

    def handler(signum, frame):
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def resource_error(exc: BaseException | None) -> BaseException | None:
    """The resource error (an OSError of ``RESOURCE_ERRNOS`` or a MemoryError) that ``exc`` is
    or was caused by; None if there is none."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno in RESOURCE_ERRNOS):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def resource_stop(exc: BaseException, phase: str, folder: Path | None = None) -> ResourceStop:
    """The one-line error for the resource error ``exc`` met ``phase``, naming the file it names,
    else ``folder`` (where the failing writes went)."""
    if isinstance(exc, MemoryError):
        what, where = RESOURCE_ERRNOS[errno.ENOMEM], ""
    else:
        what = RESOURCE_ERRNOS[exc.errno]
        where = f" writing under {folder}" if folder is not None else ""
        # a copy (Lightning saves checkpoints through a temporary file it then copies) names the
        # file it could not write second
        target = getattr(exc, "filename2", None) or getattr(exc, "filename", None)
        if target:
            where = f" at {target}"
    return ResourceStop(
        f"{what}{where} {phase}. Finished points are kept (each with its result.json); free the "
        "resource and run the same command again to resume"
    )
