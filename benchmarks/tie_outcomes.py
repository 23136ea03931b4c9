"""How much a planted point's result depends on the exact ties at AIHT's top-s cut.

Runs one full-batch Figure 1 AIHT point (float64, seed 0 by default) and lists every update at
which entries tie for the last places of the top s (units whose gates open on the same
examples have equal gradient entries). Then it reruns the point once for each way of filling
the first such tie's places and prints the final PSNR of each: the spread of results that a
different fixed tie rule would give. The project's rule keeps the largest flat indices, as the
paper's code does (docs/reproducing.md).

    .venv/bin/python benchmarks/tie_outcomes.py --m 100 --s 100
    .venv/bin/python benchmarks/tie_outcomes.py --m 50 --s 200 --num-layers 2
"""

import argparse
import itertools
import logging
import sys
import warnings
from pathlib import Path

import torch
from pytorch_lightning import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import modules.dense_weights  # noqa: E402
from callbacks.aiht import AIHT, LayerByLayer  # noqa: E402
from datamodules.planted import PlantedMLPDataModule  # noqa: E402
from modules.gated_mlp import GatedMLP  # noqa: E402
from modules.sparse_mlp import SparseMLP  # noqa: E402

RULE = modules.dense_weights.top_s_nonzero
MAX_OUTCOMES = 10


def run_point(args: argparse.Namespace, fill: tuple[int, ...] | None = None) -> tuple[float, list]:
    """The point's final PSNR and its ties [(update, tied indices, places)]; with ``fill``, the
    first tie's places go to those indices instead of the rule's."""
    ties: list[tuple[int, list[int], int]] = []

    def select(t: torch.Tensor, s: int) -> torch.Tensor:
        kept = RULE(t, s)
        if kept.numel() == 0:
            return kept
        magnitude = t.abs()
        cut = magnitude[kept].min()
        tied = (magnitude == cut).nonzero().squeeze(1)
        places = int((magnitude[kept] == cut).sum())
        if tied.numel() > places:
            ties.append((len(select.updates), tied.tolist(), places))
            if fill is not None and len(ties) == 1:
                above = kept[magnitude[kept] > cut]
                kept = torch.sort(torch.cat([above, torch.tensor(fill, device=t.device)])).values
        select.updates.append(1)
        return kept

    select.updates = []
    modules.dense_weights.top_s_nonzero = select
    try:
        dm = PlantedMLPDataModule(
            width=args.m,
            sparsity=args.s,
            seed=args.seed,
            num_layers=args.num_layers,
            nmeasurements=args.n,
            input_dim=args.d,
        )
        net = GatedMLP(width=args.m, input_dim=args.d, seed=args.seed, num_layers=args.num_layers)
        model = SparseMLP(net)
        trainer = Trainer(
            max_epochs=args.epochs,
            precision="64-true",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            callbacks=[LayerByLayer(), AIHT(sparsity=args.s)],
        )
        trainer.fit(model, datamodule=dm)
    finally:
        modules.dense_weights.top_s_nonzero = RULE
    return float(trainer.callback_metrics["val/psnr"]), ties


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=100)
    parser.add_argument("--s", type=int, default=100)
    parser.add_argument("--num-layers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=50000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=15, help="epochs per layer")
    args = parser.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    psnr, ties = run_point(args)
    print(
        f"m={args.m} s={args.s} L={args.num_layers} seed={args.seed}: {psnr:.4f} dB with the project's rule"
    )
    if not ties:
        print("no ties at the cut: the result does not depend on a tie rule")
        return
    for update, tied, places in ties:
        print(f"  update {update}: {len(tied)} entries tie for {places} place(s): {tied}")
    update, tied, places = ties[0]
    print(f"the first tie (update {update}) filled each way:")
    for fill in itertools.islice(itertools.combinations(tied, places), MAX_OUTCOMES):
        print(f"  keep {list(fill)}: {run_point(args, fill)[0]:.4f} dB")


if __name__ == "__main__":
    main()
