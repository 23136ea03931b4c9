"""Time one full-batch AIHT update against the floor of its two dense products.

The update is timed as training does it: the network's training prediction (dense state: a
forward and backward pass, ½‖pred − b‖², which fills ``weight.grad`` with A^T r; the support's
columns gathered once and reused by the callback), then the AIHT callback's
``on_before_optimizer_step``. The gates are random and dense (every unit open
somewhere) and the weights already hold s nonzeros, so the step-size product runs too.
``--storage compact`` times the compact network instead (its own random gates, docs/algorithms.md: the
model; the full gradient in chunks of units).

With ``--tied-units K`` (dense storage) the last K units' gates are twice the first K's, so that K pairs of
units open on the same examples (as units whose gates are one input do in training) and the
gradient's step that makes their rows bitwise equal has work to do.

The floor is X @ H^T (n×d times d×m) plus P^T @ X (P n×m), each a plain ``torch.mm``,
best of the repeats. Goal: update / floor <= 1.5.

    .venv/bin/python benchmarks/aiht_update.py [--dtype float32] [--device cpu] [--tied-units 100]
"""

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callbacks.aiht import AIHT  # noqa: E402
from modules.gated_mlp import GatedMLP  # noqa: E402
from modules.gated_ops import gated_gradient  # noqa: E402


def bench_module(net: GatedMLP, residual: Tensor) -> SimpleNamespace:
    """What the AIHT callback reads from the LightningModule, without Lightning."""
    return SimpleNamespace(net=net, residual=residual, max_label=1.0, log_dict=lambda *a, **k: None)


def parse_args() -> argparse.Namespace:
    """The problem size, dtype, device and repeats."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50000, help="examples")
    parser.add_argument("--d", type=int, default=100, help="input features")
    parser.add_argument("--m", type=int, default=1000, help="hidden units")
    parser.add_argument("--s", type=int, default=100, help="sparsity budget")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--memory-mb", type=float, default=32.0, help="gate-pattern memory (as SparseMLP)")
    parser.add_argument("--refine-steps", type=int, default=10)
    parser.add_argument("--storage", choices=["dense", "compact"], default="dense")
    parser.add_argument("--tied-units", type=int, default=0, help="pairs of units with one gate pattern")
    return parser.parse_args()


def sync(device: torch.device) -> None:
    """Wait for queued CUDA work so that wall times cover it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(run: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Best wall time of ``repeats`` calls of ``run`` after one warm-up call."""
    run()
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        run()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def fresh_support(m: int, d: int, s: int, like: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """s random flat indices (ascending) of an m × d weight and their values (the state after an
    earlier AIHT update)."""
    idx = torch.randperm(m * d, generator=generator, device="cpu")[: min(s, m * d)].sort().values
    values = torch.randn(idx.numel(), generator=generator, dtype=like.dtype, device="cpu") / s**0.5
    return idx.to(like.device), values.to(like.device)


def network(args: argparse.Namespace, gates: Tensor) -> GatedMLP:
    """The network under test on the benchmark's device and dtype (dense: with ``gates``)."""
    net = GatedMLP(args.m, args.d, storage=args.storage, gradient_memory_mb=args.memory_mb)
    net = net.to(gates.device, gates.dtype)
    if args.storage == "dense":
        net.hidden.gates = gates
    return net


def time_update(args: argparse.Namespace, x: Tensor, b: Tensor, gates: Tensor, device: torch.device) -> float:
    """Best time of the training prediction + AIHT update, a fresh support per repeat (untimed)."""
    generator = torch.Generator().manual_seed(1)
    callback = AIHT(sparsity=args.s, convex=False, refine_steps=args.refine_steps)
    trainer = SimpleNamespace(current_epoch=0, datamodule=SimpleNamespace(max_label=1.0))
    net = network(args, gates)
    best = float("inf")
    for repeat in range(args.repeats + 1):  # the first is a warm-up
        net.assign(*fresh_support(args.m, args.d, args.s, x, generator))
        callback._batch = (x, b)
        sync(device)
        start = time.perf_counter()
        pred = net.train_prediction(x)
        loss = 0.5 * (pred - b).square().sum()
        if loss.requires_grad:
            loss.backward()
        callback.on_before_optimizer_step(trainer, bench_module(net, (pred - b).detach()), None)
        sync(device)
        if repeat > 0:
            best = min(best, time.perf_counter() - start)
    return best


def time_floor(
    args: argparse.Namespace, x: Tensor, gates: Tensor, device: torch.device
) -> tuple[float, float]:
    """Best times of X @ H^T and P^T @ X (P a random n × m matrix, freed afterwards)."""
    p = torch.randn(args.n, args.m, dtype=x.dtype, device=device)
    floor1 = best_time(lambda: torch.mm(x, gates.T), args.repeats, device)
    floor2 = best_time(lambda: torch.mm(p.T, x), args.repeats, device)
    return floor1, floor2


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    x = torch.randn(args.n, args.d, dtype=dtype, device=device)
    b = torch.randn(args.n, dtype=dtype, device=device)
    gates = torch.randn(args.m, args.d, dtype=dtype, device=device)
    tied = min(args.tied_units, args.m // 2)
    if tied:
        gates[args.m - tied :] = 2 * gates[:tied]  # x·(2h) = 2(x·h) exactly: the same pattern

    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, device {device}, dtype {args.dtype}, threads {threads}")
    print(f"n={args.n} d={args.d} m={args.m} s={args.s} repeats={args.repeats} tied pairs={tied}")
    print(f"storage {args.storage}")
    floor1, floor2 = time_floor(args, x, gates, device)
    floor = floor1 + floor2
    print(f"floor product 1 (X @ H^T, n×d · d×m): {floor1 * 1e3:.2f} ms")
    print(f"floor product 2 (P^T @ X, m×n · n×d): {floor2 * 1e3:.2f} ms")
    print(f"floor total: {floor * 1e3:.2f} ms")
    update = time_update(args, x, b, gates, device)
    print(f"AIHT update (forward + backward + callback): {update * 1e3:.2f} ms")
    print(f"ratio update/floor = {update / floor:.2f} (goal <= 1.5)")
    if tied:
        grad = gated_gradient(x, b, gates, args.memory_mb)
        equal = torch.equal(grad[:tied], grad[args.m - tied :])
        print(f"tied pairs' gradient rows bitwise equal: {equal}")


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # noqa: BLE001 - a benchmark reports, it never fails the caller
        print(f"benchmark failed: {type(exc).__name__}: {exc}")
    sys.exit(0)
