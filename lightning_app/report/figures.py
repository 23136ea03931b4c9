"""A sweep's outputs (docs/algorithms.md: the grid): the paper's ``.npy`` tables, their heatmaps and spread
over seeds, one figure per task, curves against sparsity, a tidy ``results.csv``, ``summary.md`` and the
images in TensorBoard; and ``python cli.py heatmap --logdir DIR``, which rebuilds all of them
from TensorBoard event files alone.

Layout under the output folder OUT:

    OUT/tables/<TASK>/<method>/<paper file name>.npy   the table, shape (m, s, seed), float64
    OUT/tables/<TASK>/<method>/<paper file name>.png   its heatmap (mean over seeds)
    OUT/tables/<TASK>/<method>/<paper file name>.std.png   its std over seeds, seeds per cell
    OUT/figure_<task>.png, .pdf                        rows: depth; columns: AIHT, IMP, AIHT − IMP
    OUT/figure_<task>_std.png, .pdf                    their std heatmaps, in the same layout
    OUT/curves/<task>/hidden<L>_bs<b>_<E>epochs_bias<c>.png, .pdf   metric against s per m
    OUT/results.csv                                    one row per grid point
    OUT/summary.md                                     counts, best and worst cells, the figures
"""

import argparse
import sys
from pathlib import Path

from lightning_app.files.safe_write import remove_dead_temporaries
from lightning_app.report.curves import save_all_curves
from lightning_app.report.events import duplicate_message, find_event_files, results_from_events
from lightning_app.report.heatmaps import log_images, save_heatmap
from lightning_app.report.spread import save_std_figure, save_std_heatmap, std_path
from lightning_app.report.summary import write_summary
from lightning_app.report.tables import build_tables, save_table
from lightning_app.report.task_figure import save_task_figure
from lightning_app.store.results import write_csv

TABLES_DIR = "tables"
FIGURES_RUN = "figures"  # the TensorBoard run (folder) ``heatmap`` logs its images to
DEPRECATED_NO_TENSORBOARD = "--no-tensorboard is deprecated: write --tensorboard false"


def _sort_key(result: dict) -> tuple:
    fields = ("task", "method", "num_layers", "m", "s", "seed")
    return tuple(str(result.get(k, "")) if k in ("task", "method") else int(result.get(k, 0)) for k in fields)


def export_figures(
    results: list[dict], out_dir: Path, tb_log_dir: Path | None = None, expname: str = ""
) -> list[Path]:
    """Writes every output (tables, heatmaps, spread, figures, curves, CSV, summary) for
    ``results`` (result dicts, as in ``result.json``) under ``out_dir``, logs the PNGs as images
    to TensorBoard in ``tb_log_dir`` if given (at the step = number of points done), and returns
    the written paths. ``expname`` ends the ``.npy`` names as the paper's ``--expname`` does."""
    out_dir = Path(out_dir)
    results = sorted(results, key=_sort_key)
    tables = build_tables(results)
    written: list[Path] = []
    pngs: list[Path] = []
    panel_pngs = {}
    for table in tables:
        npy = save_table(table, out_dir / TABLES_DIR, expname)
        png = save_heatmap(table, npy.with_suffix(".png"))
        written += [npy, png]
        pngs.append(png)
        spread = None  # one seed: no spread to draw
        if len(table.seeds) > 1:
            spread = save_std_heatmap(table, std_path(png))
            written.append(spread)
            pngs.append(spread)
        panel_pngs[table.panel] = (png, spread)
    shared = []
    for task in sorted({t.panel.task for t in tables}):
        task_tables = [t for t in tables if t.panel.task == task]
        path = out_dir / f"figure_{task}.png"
        save_task_figure(task_tables, path)
        shared.append(path)
        if any(len(t.seeds) > 1 for t in task_tables):
            spread = out_dir / f"figure_{task}_std.png"
            save_std_figure(task_tables, spread)
            shared.append(spread)
    shared += list(save_all_curves(tables, results, out_dir))
    written += shared + [p.with_suffix(".pdf") for p in shared]  # figures and curves: PDF too
    pngs += shared
    csv_path = out_dir / "results.csv"
    write_csv(csv_path, results)
    written.append(csv_path)
    written.append(write_summary(results, tables, panel_pngs, shared, out_dir))
    if tb_log_dir is not None:
        done = sum(r.get("status") == "done" for r in results)
        log_images(pngs, Path(tb_log_dir), out_dir, step=done)
    return written


def true_or_false(text: str) -> bool:
    """A switch's value spelled as ``fit`` spells its own: ``true`` or ``false``."""
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"{text!r} is neither true nor false")
    return value == "true"


def heatmap_main(argv: list[str]) -> None:
    """``python cli.py heatmap --logdir DIR [--out OUT]``: those outputs rebuilt from DIR's events."""
    parser = argparse.ArgumentParser(
        prog="cli.py heatmap",
        description="Rebuild the results tables (.npy), heatmaps, spread over seeds, figures, curves "
        "against sparsity, results.csv and summary.md of the "
        "grid points logged under DIR, from their TensorBoard event files alone. Copy the log "
        "folders of several machines under one DIR to merge them (a point logged twice: the "
        "newest copy counts).",
    )
    parser.add_argument("--logdir", type=Path, required=True, help="Folder searched for events files.")
    parser.add_argument("--out", type=Path, default=None, help="Output folder (default: DIR).")
    parser.add_argument("--expname", default="", help="Suffix of the .npy names (the paper's --expname).")
    parser.add_argument(
        "--tensorboard",
        type=true_or_false,
        default=True,
        metavar="{true,false}",
        help=f"Log the images to TensorBoard, into OUT/{FIGURES_RUN} (default: true).",
    )
    parser.add_argument("--no-tensorboard", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.no_tensorboard:
        print(f"warning: {DEPRECATED_NO_TENSORBOARD}", file=sys.stderr)
        args.tensorboard = False
    if not args.logdir.is_dir():
        parser.error(f"--logdir {args.logdir} is not a directory")
    damaged: list[Path] = []

    def report(path: Path, reason: str) -> None:
        damaged.append(path)
        print(f"warning: damaged events file {path}: {reason}", file=sys.stderr)

    def duplicate(older: Path, newer: Path, point: str) -> None:
        print(f"warning: {duplicate_message(older, newer, point)}", file=sys.stderr)

    results = results_from_events(args.logdir, on_damaged=report, on_duplicate=duplicate)
    if not results:
        count = len(find_event_files(args.logdir))
        parser.error(
            f"no grid point results under {args.logdir}: found {count} TensorBoard events file(s), "
            "none with a grid point's hparams (written by the sweep at the end of each point)"
        )
    out = args.out if args.out is not None else args.logdir
    if out.is_dir():
        remove_dead_temporaries(out)
    tb_dir = out / FIGURES_RUN if args.tensorboard else None
    written = export_figures(results, out, tb_log_dir=tb_dir, expname=args.expname)
    print(f"read {len(results)} grid points from the events under {args.logdir}")
    for path in written:
        print(f"wrote {path}")
    if tb_dir is not None:
        print(f"logged {sum(p.suffix == '.png' for p in written)} images to TensorBoard in {tb_dir}")
    if damaged:
        print(
            f"warning: {len(damaged)} damaged events file(s), named above: read up to the damage; a "
            "point whose hparams were past it is missing (NaN) unless another copy of it was found",
            file=sys.stderr,
        )
