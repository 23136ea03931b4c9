"""Files written whole: under a temporary name in the target's folder, created exclusively
(``O_CREAT | O_EXCL | O_NOFOLLOW``: never through a symlink or into someone else's file), then
renamed over the target, so that a reader never sees a file half written and a kill leaves the
old file or the new one. A failed write removes its temporary.

A temporary is named ``<target name>.<host>.<pid>.<random>.tmp``; ``remove_dead_temporaries``
removes those left by a process of this host that is gone (killed in the middle of a write), and
the ``<target name>.<pid>.tmp`` of earlier versions.
"""

import os
import re
import secrets
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TMP_SUFFIX = ".tmp"
_TMP_NAME = re.compile(r"^(?P<target>.+)\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")
_OLD_TMP_NAME = re.compile(r"^(?P<target>.+)\.(?P<pid>\d+)\.tmp$")  # earlier versions: pid only, this host


def host_tag() -> str:
    """This host's name as it appears in temporary names (letters, digits and dashes)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


def pid_running(pid: int) -> bool:
    """Whether process ``pid`` of this host is alive (a process we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _open_temporary(path: Path) -> tuple[Path, BinaryIO]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.with_name(f"{path.name}.{host_tag()}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}")
        try:
            fd = os.open(tmp, flags, 0o644)
        except FileExistsError:  # a name taken (by a file or a planted symlink): draw another
            continue
        return tmp, os.fdopen(fd, "wb")
    raise FileExistsError(f"no free temporary name next to {path}")


def write_whole(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Writes ``path`` by ``write(file)`` under a temporary name, then renames it over ``path``."""
    path = Path(path)
    tmp, f = _open_temporary(path)
    try:
        with f:
            write(f)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is None:  # a failed write() names no file: name the one being written
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """``path`` holds ``data``, written whole."""
    write_whole(path, lambda f: f.write(data))


def write_text(path: Path, text: str) -> None:
    """``path`` holds ``text`` as UTF-8, written whole."""
    write_bytes(path, text.encode("utf-8"))


def remove_dead_temporaries(folder: Path) -> list[Path]:
    """Removes, anywhere under ``folder``, the temporaries of this host's processes that are gone;
    returns them. Never follows a symlinked folder."""
    removed, host = [], host_tag()
    for dirpath, _, names in os.walk(folder):
        for name in names:
            match = _TMP_NAME.match(name)
            if match is None:
                match = _OLD_TMP_NAME.match(name)
                found_host = host
            else:
                found_host = match["host"]
            if match is None or found_host != host or pid_running(int(match["pid"])):
                continue
            path = Path(dirpath) / name
            try:
                path.unlink()
                removed.append(path)
            except FileNotFoundError:
                pass
    return removed


def remove_dead_folders(parent: Path, prefix: str) -> list[Path]:
    """Removes the folders ``<prefix><pid>`` directly in ``parent`` whose process is gone (scratch
    folders of killed processes); returns them."""
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        pid = entry.name.removeprefix(prefix)
        if entry.name.startswith(prefix) and pid.isdigit() and not pid_running(int(pid)):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(Path(entry.path))
    return removed
