"""Entry point: ``python cli.py fit --config configs/figure1.yaml`` runs a figure's grid;
``python cli.py heatmap --logdir DIR`` rebuilds its tables and heatmaps from TensorBoard events."""

import gc
import os
import signal
import sys


def _stopped_while_loading(signum, frame) -> None:
    """Ctrl-C or SIGTERM while the libraries load: nothing ran yet, so nothing to keep."""
    print(f"interrupted by {signal.Signals(signum).name} while starting: nothing ran", file=sys.stderr)
    os._exit(128 + signum)


if __name__ == "__main__":
    gc.disable()  # while the libraries load; keep_freed_memory turns it back on (allocator.py says why)
    for _signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_signum, _stopped_while_loading)  # until main() handles them

from lightning_app.cli import main  # noqa: E402
from lightning_app.launch.allocator import keep_freed_memory  # noqa: E402

if __name__ == "__main__":
    keep_freed_memory()
    main()
