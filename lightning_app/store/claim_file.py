"""A ``claim.json`` read back (``claims.py`` says what a claim is): a small regular file holding
the claimant's host, process id and token. Anything else there (random bytes, a folder, a
symlink, a FIFO, a file still empty after a grace period) is a damaged claim.
"""

import json
import os
import time
from pathlib import Path
from stat import S_ISREG

from lightning_app.files.bounded_read import UnreadableFile, read_bounded

MAX_CLAIM_BYTES = 4096  # a claim is about 120 bytes
WRITE_GRACE_S = 5.0  # a claim is written at once after its file is created


class DamagedClaim(Exception):
    """Why a ``claim.json`` cannot be a claim (then it is set aside and the point claimed anew)."""


def read_claim(path: Path) -> tuple[dict, os.stat_result] | None:
    """The claim's fields (empty while it is being written) and its stat; None if it is gone;
    DamagedClaim if it cannot be a claim: not a regular file (a folder, a symlink, a FIFO), not
    a small JSON object, or still without its fields after ``WRITE_GRACE_S`` seconds."""
    try:
        stat = os.lstat(path)
        if not S_ISREG(stat.st_mode):
            raise DamagedClaim("it is not a regular file (a folder, a symlink or a device)")
        text = read_bounded(path, MAX_CLAIM_BYTES).decode("utf-8")
        fields = json.loads(text)
    except FileNotFoundError:
        return None
    except UnreadableFile as exc:
        raise DamagedClaim(str(exc)) from None
    except UnicodeDecodeError:
        raise DamagedClaim("it is not text (random bytes?)") from None
    except json.JSONDecodeError:
        fields = None
    if isinstance(fields, dict) and isinstance(fields.get("pid"), int) and "host" in fields:
        return fields, stat
    if time.time() - stat.st_mtime > WRITE_GRACE_S:
        raise DamagedClaim("it does not hold a claim's host and process id")
    return {}, stat


def holder(path: Path) -> str:
    """Who holds the claim at ``path`` and since when, in words."""
    try:
        found = read_claim(path)
    except DamagedClaim:
        found = None
    if found is None:
        return "a claim that is gone or damaged"
    fields, stat = found
    since = fields.get("since", stat.st_mtime)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if isinstance(since, float) else "?"
    return f"process {fields.get('pid', '?')} on {fields.get('host', '?')} since {when}"
