"""Peak memory and time of one vector-output AIHT update (docs/algorithms.md: vector AIHT) as the width m
grows, s fixed.

One update is ``callbacks.vector_aiht.vector_update`` exactly as the callback calls it: the
chunked unit gradients, the count-sketch selection streaming over the units, the write-back.
Two states are measured:

- ``steady``: W1 and W2 hold s nonzeros between them (a state after earlier updates), the gates
  are W1 (sequential convex mode): only the units with weights cost anything;
- ``start``: all weights zero and start values due (the first update): every unit gets start
  values, so all N = m·(d + k) entries stream through the selection, chunk by chunk;
- ``epoch``: as ``steady``, with start values due (a later epoch's first batch): the dead units
  get start values, but their gates are closed, so they pass the selection in one step.

Memory is what the update allocates beyond what exists before it (X, R, the weights, the gates
and the sketch table, all counted separately below): on the CPU the peak of live bytes over the
call from the torch profiler's allocation events (every allocation and free of torch's CPU
allocator, summed in time order); on CUDA ``torch.cuda.max_memory_allocated`` minus the bytes
allocated before the call. The claim being checked: the peak grows with s (and the chunk size,
set from ``--memory-mb``), not with m·d.

    .venv/bin/python benchmarks/vector_selection_memory.py [--device cuda] [--widths 200 2000 20000]
"""

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callbacks.aiht.importance import make_importance  # noqa: E402
from callbacks.aiht.vector import units_per_chunk, vector_step_size, vector_update  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[200, 2000, 20000], help="hidden widths m")
    parser.add_argument("--states", nargs="+", default=["steady", "epoch", "start"], help="states to measure")
    parser.add_argument("--s", type=int, default=200, help="sparsity budget")
    parser.add_argument("--n", type=int, default=5000, help="examples in the batch")
    parser.add_argument("--d", type=int, default=100, help="input features")
    parser.add_argument("--k", type=int, default=10, help="outputs")
    parser.add_argument("--memory-mb", type=float, default=8.0, help="work memory for unit chunks")
    parser.add_argument("--device", default="cpu")
    return parser.parse_args()


def problem(args, m: int, state: str, device: torch.device):
    """X, R, W1, W2, gates and a sketch that has seen one earlier update's worth of adds."""
    generator = torch.Generator().manual_seed(m)
    dtype = torch.float64

    def randn(*shape):
        return torch.randn(*shape, generator=generator, dtype=dtype).to(device)

    x, r = randn(args.n, args.d), randn(args.n, args.k) / args.n
    w1 = torch.zeros(m, args.d, dtype=dtype, device=device)
    w2 = torch.zeros(m, args.k, dtype=dtype, device=device)
    if state in ("steady", "epoch"):
        weights = m * (args.d + args.k)
        flat = torch.randperm(weights, generator=generator)[: args.s].to(device)
        values = randn(flat.numel())
        in_w1 = flat < w1.numel()
        w1.view(-1)[flat[in_w1]] = values[in_w1]
        w2.view(-1)[flat[~in_w1] - w1.numel()] = values[~in_w1]
        gates = w1.clone()
    else:
        gates = randn(m, args.d)
    importance = make_importance("sketch", w1.numel() + w2.numel(), args.s, device, dtype)
    return x, r, w1, w2, gates, importance


def timed_update(args, m: int, state: str, device: torch.device) -> tuple[float, int]:
    """Wall time of one update on a fresh problem, without the profiler."""
    x, r, w1, w2, gates, importance = problem(args, m, state, device)
    alpha = vector_step_size(args.s, m, False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    kept = vector_update(x, r, w1, w2, gates, importance, args.s, alpha, state != "steady", args.memory_mb)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, kept


def peak_of_update(args, m: int, state: str, device: torch.device) -> tuple[float, dict]:
    """Peak bytes the update allocates beyond what exists before it, and the sizes around it."""
    x, r, w1, w2, gates, importance = problem(args, m, state, device)
    alpha = vector_step_size(args.s, m, False)

    def update():
        vector_update(x, r, w1, w2, gates, importance, args.s, alpha, state != "steady", args.memory_mb)

    if device.type == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        update()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
    else:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            update()
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
        live = peak = 0
        for event in sorted(events, key=lambda e: e.start_ns()):
            live += event.nbytes()
            peak = max(peak, live)
    sizes = {
        "sketch": importance.nbytes(),
        "dense": (w1.numel() + w2.numel() + gates.numel()) * w1.element_size(),
    }
    return peak, sizes


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    chunk = units_per_chunk(args.n, 8, args.memory_mb)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, float64")
    print(f"n={args.n} d={args.d} k={args.k} s={args.s}, --memory-mb {args.memory_mb}: {chunk} units a chunk")
    print("state   m       peak of the update  time      kept  sketch table  model's dense W1+W2+gates")
    for state in args.states:
        for m in args.widths:
            seconds, kept = timed_update(args, m, state, device)
            peak, sizes = peak_of_update(args, m, state, device)
            print(
                f"{state:7s} {m:<7d} {peak / 2**20:8.2f} MiB        {seconds * 1e3:8.1f} ms "
                f"{kept:5d}  {sizes['sketch'] / 2**10:8.1f} KiB  {sizes['dense'] / 2**20:8.2f} MiB"
            )


if __name__ == "__main__":
    main()
