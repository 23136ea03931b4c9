"""Entry point: ``python cli.py fit --config configs/figure1.yaml`` runs a figure's grid;
``python cli.py heatmap --logdir DIR`` rebuilds its tables and heatmaps from TensorBoard events."""

import sys

from lightning_app.allocator import keep_freed_memory
from lightning_app.cli import SweepCLI
from lightning_app.figures import heatmap_main


def main() -> None:
    keep_freed_memory()
    if sys.argv[1:2] == ["heatmap"]:
        heatmap_main(sys.argv[2:])
    else:
        try:
            SweepCLI()
        except ValueError as exc:  # bad settings: the message names the setting and what to do
            sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
