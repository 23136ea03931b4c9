"""Entry point: ``python cli.py fit --config configs/figure1.yaml`` runs a figure's grid;
``python cli.py heatmap --logdir DIR`` rebuilds its tables and heatmaps from TensorBoard events."""

import gc

if __name__ == "__main__":
    gc.disable()  # while the libraries load; keep_freed_memory turns it back on (allocator.py says why)

from lightning_app.cli import main  # noqa: E402
from lightning_app.launch.allocator import keep_freed_memory  # noqa: E402

if __name__ == "__main__":
    keep_freed_memory()
    main()
