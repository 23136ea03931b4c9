"""The grid of a figure: method × hidden layers × m × s × seed, one independent run per point."""

import itertools
from dataclasses import dataclass

METHODS = ("aiht", "imp")
NUM_LAYERS = (1,)


@dataclass(frozen=True)
class GridPoint:
    method: str
    num_layers: int
    m: int
    s: int
    seed: int

    def folder(self, task: str) -> str:
        """Where this point's logs and result.json live, relative to the sweep's root."""
        return f"{task}/{self.method}/hidden{self.num_layers}/m{self.m}_s{self.s}_seed{self.seed}"

    def trajectory_folder(self, task: str) -> str:
        """Where an IMP trajectory shared by every s of this (m, seed) logs its training."""
        return f"{task}/{self.method}/hidden{self.num_layers}/m{self.m}_seed{self.seed}_trajectory"


def group_jobs(points: list[GridPoint], shared_trajectory) -> list[list[GridPoint]]:
    """Points that one run serves together: ``shared_trajectory(point)`` says whether a point's
    run serves every s of its (method, layers, m, seed); other points run alone. Grid order kept."""
    jobs: dict[tuple, list[GridPoint]] = {}
    for p in points:
        key = (p.method, p.num_layers, p.m, p.seed) if shared_trajectory(p) else p
        jobs.setdefault(key, []).append(p)
    return list(jobs.values())


def grid_points(
    methods: list[str], num_layers: list[int], mlist: list[int], slist: list[int], seedlist: list[int]
) -> list[GridPoint]:
    """All points, checked: a bad value stops here with the setting's name."""
    for method in methods:
        if method not in METHODS:
            raise ValueError(f"sweep.method: unknown method {method!r}; available: {', '.join(METHODS)}")
    for layers in num_layers:
        if layers not in NUM_LAYERS:
            raise ValueError(
                f"sweep.num_layers: {layers} hidden layers are not available yet; available: {NUM_LAYERS}"
            )
    for name, values in (("mlist", mlist), ("slist", slist)):
        if not values:
            raise ValueError(f"sweep.{name} is empty: give at least one value")
        for v in values:
            if v < 1:
                raise ValueError(f"sweep.{name}: every value must be at least 1, got {v}")
    if not seedlist:
        raise ValueError("sweep.seedlist is empty: give at least one seed")
    for seed in seedlist:
        if seed < 0:
            raise ValueError(f"sweep.seedlist: seeds must be 0 or more, got {seed}")
    return [
        GridPoint(method, layers, m, s, seed)
        for method, layers, m, s, seed in itertools.product(methods, num_layers, mlist, slist, seedlist)
    ]
