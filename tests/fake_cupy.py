"""A stand-in for CuPy on a machine without it: each ``cupy.random`` call the project makes is the
numpy legacy call of the same name on one global ``RandomState``, arrays are numpy arrays (which
torch takes through DLPack too) and ``cupy.cuda.Device`` is a context that does nothing.

With it the project's ``draws: cupy`` path runs on the CPU and must give numpy's numbers: that
shows it makes the paper code's calls (which seed, which draw, which arguments, in which order), though
not that CuPy's generator gives any particular numbers (the GPU tests compare with real CuPy).
"""

import contextlib
import types

import numpy as np


def fake_cupy() -> types.ModuleType:
    state = np.random.RandomState()

    def randint(low, high=None, size=None):
        return np.asarray(state.randint(low, high, size))  # CuPy returns a 0-dim array for size None

    module = types.ModuleType("cupy")
    module.__version__ = "fake (numpy's legacy generator)"
    module.empty = np.empty
    module.random = types.SimpleNamespace(
        seed=state.seed,
        randint=randint,
        normal=lambda loc=0.0, scale=1.0, size=None: state.normal(loc, scale, size),
        uniform=lambda low=0.0, high=1.0, size=None: state.uniform(low, high, size),
        choice=lambda a, size=None, replace=True, p=None: state.choice(a, size, replace, p),
    )
    module.cuda = types.SimpleNamespace(
        Device=lambda index=None: contextlib.nullcontext(),
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
    )
    return module
