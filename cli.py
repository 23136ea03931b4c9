"""Entry point: ``python cli.py fit --config configs/figure1.yaml`` runs a figure's grid;
``python cli.py heatmap --logdir DIR`` rebuilds its tables and heatmaps from TensorBoard events."""

from lightning_app.allocator import keep_freed_memory
from lightning_app.cli import main

if __name__ == "__main__":
    keep_freed_memory()
    main()
