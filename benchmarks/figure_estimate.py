"""Estimates each figure's time on this machine, panel by panel, from a few points measured here.

Method. For every panel of a config, two points are run (seed 0, the panel's median s): at its
smallest m and at its largest m not above ``--max-m`` (AIHT) or ``--imp-max-m`` (IMP) (its two
smallest m where fewer are that small), and for AIHT a third at that largest m and the panel's
largest s, in this process (so Python's imports are paid once, outside the points), after one
warm-up point that is not counted. Their ``wall_s`` fit a cost per point linear in the work:

    AIHT: t = a + b·m + c·s_eff          IMP: t = a + b·m·R(m, s)

where s_eff is the budget AIHT keeps in the layer it trains (s / L, at most the layer's weights:
its refinement and gathers grow with it), and R is the number of IMP rounds
(``callbacks/imp/schedule.py``, from the network's weight count and s: every round trains
``max_epochs`` epochs). The panel's estimate is the sum of t over
its grid: every (m, s, seed), or for an IMP trajectory shared by every s (tasks whose data does
not depend on s) every (m, seed) with the smallest s's rounds. Linear extrapolation from m ≤ 100
to m = 1000 ignores cache and memory effects: treat estimates at large m as a rough guide, and
measure one large point (``benchmarks/single_points.sh``) where it matters.

    python benchmarks/figure_estimate.py                                # every figure config
    python benchmarks/figure_estimate.py configs/figure1.yaml --max-m 100 --imp-max-m 20
    python benchmarks/figure_estimate.py configs/figure2.yaml --methods aiht
    python benchmarks/figure_estimate.py configs/figure1.yaml -- --trainer.accelerator gpu

A panel whose data is not on this machine is listed as unavailable.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from callbacks.imp.schedule import prune_schedule  # noqa: E402
from lightning_app import cli  # noqa: E402
from lightning_app.launch.allocator import keep_freed_memory  # noqa: E402
from lightning_app.plan.grid import GridPoint  # noqa: E402
from lightning_app.plan.sweep_plan import SweepPlan  # noqa: E402

CONFIGS = [
    "configs/figure1.yaml",
    "configs/figure2.yaml",
    "configs/figure3.yaml",
    "configs/figure4.yaml",
    "configs/figure5.yaml",
    "configs/binary_cifar10.yaml",
    "configs/gaussian_sparse.yaml",
]


def imp_rounds(plan: SweepPlan, panel_index: int, point: GridPoint, targets: list[int]) -> int:
    """IMP's rounds for ``point`` serving ``targets``: the schedule from its network's weights."""
    config = plan.panel_configs[panel_index]
    weights = plan.instantiate(config, point).model.net.num_weights()
    return len(prune_schedule(weights, targets, config.imp.prune_iters)) + int(config.imp.retrain)


def measure(config: str, extra: list[str], panel, m: int, s: int, root: Path) -> float | None:
    """``wall_s`` of one point of ``panel`` (seed 0), run in this process; None if it was skipped."""
    folder = root / f"{panel.method}{panel.num_layers}_m{m}_s{s}"
    args = ["--config", config, "--sweep.method", panel.method, "--sweep.num_layers", str(panel.num_layers)]
    args += ["--sweep.mlist", str(m), "--sweep.slist", str(s), "--sweep.seedlist", "0"]
    args += ["--trainer.default_root_dir", str(folder), "--trainer.enable_progress_bar", "false", *extra]
    cli.fit(args)
    (result,) = [json.loads(p.read_text()) for p in folder.rglob("result.json")]
    if result["status"] not in ("done", "skipped"):
        raise RuntimeError(f"{folder}: {result['status']} {result.get('error')}")
    return result["wall_s"] if result["status"] == "done" else None


def layer_weights(plan: SweepPlan, panel_index: int, point: GridPoint) -> int:
    """The weights of the layer AIHT trains first in ``point``'s network: where its budget stops."""
    return plan.instantiate(plan.panel_configs[panel_index], point).model.net.num_weights


def panel_estimate(config: str, extra: list[str], plan: SweepPlan, index: int, args, root: Path) -> dict:
    """The measured points and the estimate (seconds) of panel ``index`` of ``plan``."""
    panel = plan.available[index]
    imp = panel.method == "imp"
    s = sorted(panel.slist)[len(panel.slist) // 2]
    limit = args.imp_max_m if imp else args.max_m
    task = plan.points[0].task if plan.points else ""
    shared = plan.shared_trajectory(
        GridPoint(task, panel.method, panel.num_layers, panel.mlist[0], s, 0, index)
    )
    weights: dict[int, int] = {}  # AIHT: the first trained layer's weight count, by m

    def work(m: int, ss: int) -> tuple[float, float]:
        """(the work that grows with m, the work that grows with s) of the point (m, ss)."""
        point = GridPoint(task, panel.method, panel.num_layers, m, ss, 0, index)
        if imp:
            targets = sorted(panel.slist) if shared else [ss]
            return m * imp_rounds(plan, index, point, targets), 0.0
        if m not in weights:
            weights[m] = layer_weights(plan, index, point)
        return m, min(int(ss / panel.num_layers), weights[m])

    times: dict[tuple[int, int], float] = {}
    candidates = sorted(m for m in panel.mlist if m <= limit)
    if len(candidates) < 2:  # e.g. the Gaussian task, whose m (the signal's length) starts at 500
        candidates = sorted(panel.mlist)[:2]
    measure(config, extra, panel, candidates[0], s, root / "warm-up")  # the first point's lazy set-up
    for m in candidates:  # the smallest m whose point is not skipped (deeper planted: m² ≥ s/L)
        wall = measure(config, extra, panel, m, s, root)
        if wall is not None:
            times[m, s] = wall
            break
    largest = candidates[-1]
    if times and (largest, s) not in times:
        times[largest, s] = measure(config, extra, panel, largest, s, root)
    if times and not imp and work(largest, max(panel.slist))[1] != work(largest, s)[1]:
        wall = measure(config, extra, panel, largest, max(panel.slist), root)
        if wall is not None:
            times[largest, max(panel.slist)] = wall
    a, b, c = fit([(work(m, ss), t) for (m, ss), t in times.items() if t is not None])
    seeds = len(plan.config.sweep.seedlist)
    slist = [min(panel.slist)] if shared else panel.slist
    total = seeds * sum(a + b * work(m, ss)[0] + c * work(m, ss)[1] for m in panel.mlist for ss in slist)
    jobs = len(panel.mlist) * len(slist) * seeds
    return {"panel": panel.name, "jobs": jobs, "measured": times, "a": a, "b": b, "c": c, "total": total}


def fit(points: list[tuple[tuple[float, float], float]]) -> tuple[float, float, float]:
    """(a, b, c) of t = a + b·u + c·v through the measured ((u, v), t): the first two points share
    v and give a and b, a third at the second's u gives c; slopes below 0 are taken as 0."""
    if not points:
        return 0.0, 0.0, 0.0
    (u0, v0), t0 = points[0]
    if len(points) == 1:
        return t0, 0.0, 0.0
    (u1, v1), t1 = points[1]
    if u1 == u0:  # one m measured: the second point differs in s only
        c = max(0.0, (t1 - t0) / (v1 - v0)) if v1 != v0 else 0.0
        return t0 - c * v0, 0.0, c
    c = 0.0
    if len(points) > 2:
        (u2, v2), t2 = points[2]
        c = max(0.0, (t2 - t1) / (v2 - v1))
    b = max(0.0, (t1 - t0 - c * (v1 - v0)) / (u1 - u0)) if u1 != u0 else 0.0
    return t0 - b * u0 - c * v0, b, c


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("configs", nargs="*", default=CONFIGS)
    parser.add_argument("--max-m", type=int, default=100, help="largest m measured for AIHT panels")
    parser.add_argument("--imp-max-m", type=int, default=20, help="largest m measured for IMP panels")
    parser.add_argument(
        "--methods", nargs="+", default=["aiht", "imp"], help="the panels' methods to estimate"
    )
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    keep_freed_memory()  # as cli.py does before any work
    rows = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for config in args.configs:
            try:
                plan = cli.SweepCLI(["--config", config, *extra]).plan
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - e.g. its data is not here
                rows.append(f"| {config} | – | – | not available here: {exc} | – | – |")
                continue
            for panel, reason in plan.unavailable:
                rows.append(f"| {config} | {panel.name} | – | not available here: {reason} | – | – |")
            for index in range(len(plan.available)):
                if plan.available[index].method not in args.methods:
                    continue
                try:
                    est = panel_estimate(config, extra, plan, index, args, Path(tmp))
                except Exception as exc:  # noqa: BLE001 - e.g. its data is not here
                    rows.append(f"| {config} | {plan.available[index].name} | – | failed: {exc} | – | – |")
                    continue
                measured = ", ".join(f"m={m}, s={ss}: {t:.2f} s" for (m, ss), t in est["measured"].items())
                line = f"{est['a']:.3f} + {est['b']:.2e}·work" + (
                    f" + {est['c']:.2e}·s_eff" if est["c"] else ""
                )
                total = f"{est['total']:.0f} s ({est['total'] / 3600:.2f} h)"
                where = f"| {config} | {est['panel']} | {est['jobs']}"
                rows.append(f"{where} | {measured} | {line} | {total} |")
                print(rows[-1], file=sys.stderr, flush=True)
    print("| config | panel | jobs | measured wall_s (seed 0) | fit (s) | estimate |")
    print("|---|---|---:|---|---|---:|")
    print("\n".join(rows))
    print(f"\n(measuring took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
