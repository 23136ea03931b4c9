"""Claims on grid points, so that sweeps sharing one output folder (on one machine or many, with
any launcher) never run the same point twice and never wait on a point forever.

A sweep claims a point before running it by creating ``<point folder>/claim.json`` with
``O_CREAT | O_EXCL``: exactly one creator succeeds. The file names the claimant's host, process
id and a token; its modification time is the heartbeat, which a thread of the claiming process
refreshes (``os.utime`` on the file it created) while it holds claims. A claim is dead when its
process is gone (same host, pid not running, or this very process without the token) or when its
heartbeat is older than ``stale_after`` seconds (another host, or a hung process); a dead claim
is removed under a short takeover lock, so that of several sweeps finding it dead only one
replaces it. A ``claim.json`` that cannot be a claim (``claim_file.py``) is named in a warning, set
aside as ``claim.json.damaged-<time>`` and the point claimed anew.

``PointClaims.turns`` hands out the jobs this sweep may run: a job whose points are claimed by a
live other sweep is put off; once every other job has been handed out, the put-off jobs are
polled: a point whose ``result.json`` the other sweep wrote meanwhile is adopted as it is, a
point whose claim died is taken over. Each point waited for is named once, with who holds it and
since when.
"""

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from lightning_app.files.safe_write import pid_running
from lightning_app.plan.errors import SettingsError
from lightning_app.plan.grid import GridPoint
from lightning_app.store.claim_file import DamagedClaim, holder, read_claim
from lightning_app.store.finished import KEPT, set_aside
from lightning_app.store.results import RESULT_FILE

CLAIM_FILE = "claim.json"
DEFAULT_STALE_S = 180.0
POLL_S = 1.0  # how often put-off points are looked at again

log = logging.getLogger("lightning_app.store.claims")

_live_tokens: set[str] = set()  # the claims this process holds now


class Claim:
    """One held claim: the open file it was created as (for the heartbeat) and its identity."""

    def __init__(self, path: Path, fd: int, token: str) -> None:
        self.path, self.fd, self.token = path, fd, token
        self.inode = os.fstat(fd).st_ino

    def beat(self) -> None:
        os.utime(self.fd)

    def still_ours(self) -> bool:
        try:
            return os.stat(self.path).st_ino == self.inode
        except FileNotFoundError:
            return False

    def release(self) -> None:
        """Removes the claim file if it is still this claim's (not one that took it over)."""
        _live_tokens.discard(self.token)
        try:
            if self.still_ours():
                os.unlink(self.path)
        finally:
            os.close(self.fd)


def claim_is_dead(fields: dict, stat: os.stat_result, stale_after: float, now: float | None = None) -> bool:
    """Whether a claim's process is gone or its heartbeat (the file's mtime) is stale."""
    now = time.time() if now is None else now
    if now - stat.st_mtime > stale_after:
        return True
    if fields.get("host") != socket.gethostname() or not isinstance(fields.get("pid"), int):
        return False
    if fields["pid"] == os.getpid():
        return fields.get("token") not in _live_tokens
    return not pid_running(fields["pid"])


def try_claim(folder: Path, stale_after: float = DEFAULT_STALE_S) -> Claim | None:
    """Claims the point whose folder is ``folder``; None while another live process holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CLAIM_FILE
    for _ in range(3):  # a dead claim removed, then created again: at most a couple of rounds
        token = uuid.uuid4().hex
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                found = read_claim(path)
            except DamagedClaim as reason:
                _set_aside_claim(path, reason)
                continue
            if found is not None and not claim_is_dead(*found, stale_after):
                return None
            if found is not None and not _remove_dead(path, found[1], stale_after):
                return None
            continue
        _live_tokens.add(token)
        fields = {"host": socket.gethostname(), "pid": os.getpid(), "token": token, "since": time.time()}
        os.write(fd, json.dumps(fields).encode())
        return Claim(path, fd, token)
    return None


def _set_aside_claim(path: Path, reason: DamagedClaim) -> None:
    try:
        aside = set_aside(path)
    except SettingsError:
        if os.path.lexists(path):
            raise
        return  # another sweep set it aside first
    log.warning("%s is damaged: %s; set aside as %s, the point is claimed anew", path, reason, aside.name)


def _remove_dead(path: Path, seen: os.stat_result, stale_after: float) -> bool:
    """Removes the dead claim ``seen`` under the takeover lock; False if another process holds the
    lock (it is taking the claim over)."""
    lock = path.with_name(path.name + ".takeover")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:
            if time.time() - os.stat(lock).st_mtime > stale_after:
                os.unlink(lock)  # left by a process that died in the middle of a takeover
        except FileNotFoundError:
            pass
        return False
    try:
        try:
            found = read_claim(path)
        except DamagedClaim:
            found = None
        if found is not None and found[1].st_ino == seen.st_ino and claim_is_dead(*found, stale_after):
            os.unlink(path)
        return True
    finally:
        os.close(fd)
        os.unlink(lock)


def _fingerprint(folder: Path) -> tuple | None:
    try:
        stat = os.stat(folder / RESULT_FILE)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


Job = tuple[list[GridPoint], list[GridPoint]]  # the points one run serves, and those still to do


class PointClaims:
    """The claims of one sweep on the points under ``root``; a context that keeps their heartbeat
    going and releases whatever is still held when it ends."""

    def __init__(self, root: Path, stale_after: float = DEFAULT_STALE_S, overwrite: bool = False) -> None:
        if stale_after <= 0:
            raise ValueError(f"sweep.claim_stale_s must be positive, got {stale_after}")
        self.root, self.stale_after, self.overwrite = root, stale_after, overwrite
        self.held: dict[GridPoint, Claim] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._beat_loop, name="claims-heartbeat", daemon=True)

    def __enter__(self) -> "PointClaims":
        self._beat.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._beat.join()
        self.release(list(self.held))

    def _beat_loop(self) -> None:
        while not self._stop.wait(self.stale_after / 4):
            with self._lock:
                for claim in self.held.values():
                    claim.beat()

    def release(self, points: list[GridPoint]) -> None:
        with self._lock:
            for p in points:
                claim = self.held.pop(p, None)
                if claim is not None:
                    claim.release()

    def _claim_all(self, todo: list[GridPoint]) -> GridPoint | None:
        """Claims every point of ``todo``, or none of them; returns the point held by another
        sweep (None when all are claimed)."""
        got = []
        for p in todo:
            claim = try_claim(self.root / p.folder, self.stale_after)
            if claim is None:
                for _, held in got:
                    held.release()
                return p
            got.append((p, claim))
        with self._lock:
            self.held.update(got)
        return None

    def turns(
        self,
        jobs: list[Job],
        adopt: Callable[[GridPoint, dict], None],
        idle: Callable[[float], None],
        read: Callable[[GridPoint], dict | None],
        tell: Callable[[str], None] = log.warning,
    ) -> Iterator[Job]:
        """The jobs this sweep may run now, each with its points claimed (release them when the
        job's results are written). Points another sweep finished since ``jobs`` was made
        (``read(point)`` gives their result) are passed to ``adopt(point, result)`` instead; while
        only put-off jobs are left, ``idle(s)`` is called between polls (it may handle finished
        work for up to s seconds). Each point waited for is named once to ``tell``, with who
        holds it and since when."""
        told: set[GridPoint] = set()
        seen = {p: _fingerprint(self.root / p.folder) for _, todo in jobs for p in todo}

        def settle(todo: list[GridPoint]) -> list[GridPoint]:
            """The points of ``todo`` still to run; the others are adopted."""
            left = []
            for p in todo:
                changed = _fingerprint(self.root / p.folder) != seen[p]
                result = read(p) if changed or not self.overwrite else None  # overwrite: ours to redo
                if result is not None and (changed or result["status"] in KEPT):
                    adopt(p, result)
                else:
                    left.append(p)
            return left

        def attempt(todo: list[GridPoint]) -> list[GridPoint] | None:
            """The points to run now (claimed), [] if none is left, None if the job is put off."""
            todo = settle(todo)
            if not todo:
                return []
            blocked = self._claim_all(todo)
            if blocked is not None:
                if blocked not in told:
                    told.add(blocked)
                    path = self.root / blocked.folder / CLAIM_FILE
                    tell(
                        f"{blocked.folder}: claimed by another sweep ({holder(path)}); waiting for "
                        f"it, or until its heartbeat is {self.stale_after:g} s old, then taking it over"
                    )
                return None
            todo_now = settle(todo)  # finished by another sweep just before the claim
            self.release([p for p in todo if p not in todo_now])
            return todo_now

        waiting, first_pass = list(jobs), True
        while waiting:
            if not first_pass:
                idle(POLL_S)
            first_pass, put_off = False, []
            for job, todo in waiting:
                todo_now = attempt(todo)
                if todo_now is None:
                    put_off.append((job, todo))
                elif todo_now:
                    yield job, todo_now
            waiting = put_off


def held_by_another(folder: Path, stale_after: float = DEFAULT_STALE_S) -> bool:
    """Whether a live claim of another sweep holds the point whose folder is ``folder`` (read
    only: a dead or damaged claim is left in place, and holds nothing)."""
    try:
        found = read_claim(Path(folder) / CLAIM_FILE)
    except DamagedClaim:
        return False
    return found is not None and not claim_is_dead(*found, stale_after)
