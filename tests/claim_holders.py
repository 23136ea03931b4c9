"""Processes that claim a grid point, for tests/test_claims.py (light: only lightning_app.store.claims)."""

import time
from pathlib import Path

from lightning_app.store.claims import try_claim


def claim_and_wait(folder: str, ready) -> None:
    """Claims ``folder``, says whether it could, and waits to be killed."""
    claim = try_claim(Path(folder))
    ready.put(claim is not None)
    time.sleep(600)


def race(folder: str, start, wins) -> None:
    """Tries to claim ``folder`` when ``start`` is set; says whether it won; holds it a moment."""
    start.wait()
    claim = try_claim(Path(folder), stale_after=60)
    wins.put(claim is not None)
    time.sleep(1)
