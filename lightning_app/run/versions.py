"""The versions of the libraries that decide a point's numbers, recorded in its ``result.json``:
torch (the arithmetic), numpy (the random draws of the data and gates), Lightning (the loop), and
CuPy when it draws (``--sweep.draws cupy``: its stream may change between releases)."""

import numpy
import pytorch_lightning
import torch


def software_versions(cupy: bool = False) -> dict[str, str]:
    """The versions in this process; with ``cupy``, CuPy's too."""
    versions = {
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "pytorch_lightning": pytorch_lightning.__version__,
    }
    if cupy:
        import cupy as cp  # only where it draws: the sweep checked that it imports

        versions["cupy"] = cp.__version__
    return versions
