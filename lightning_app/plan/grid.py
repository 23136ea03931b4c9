"""The grid of a figure: panels (method × hidden layers, each with its m and s lists and setting
overrides) × m × s × seed, one independent run per point."""

import itertools
from collections import Counter
from dataclasses import dataclass, field

METHODS = ("aiht", "imp")
#: numpy seeds stop at 2**32 - 1 and the planted data seeds numpy with seed + 3 (docs/algorithms.md: the
# tasks)
MAX_SEED = 2**32 - 4


@dataclass
class Panel:
    """One heatmap of a figure.

    Args:
        method: ``aiht`` or ``imp``.
        num_layers: hidden layers L.
        mlist: hidden widths m (rows of the heatmap).
        slist: budgets s (columns).
        overrides: settings that differ from the config's for this panel, as a nested mapping
            like the config's own (``{"trainer": {"max_epochs": 50}, "data": {...}}``).
    """

    method: str = "aiht"
    num_layers: int = 1
    mlist: list[int] = field(default_factory=lambda: [10])
    slist: list[int] = field(default_factory=lambda: [10])
    overrides: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.method}/hidden{self.num_layers}"


@dataclass(frozen=True)
class GridPoint:
    task: str
    method: str
    num_layers: int
    m: int
    s: int
    seed: int
    panel: int = 0

    @property
    def folder(self) -> str:
        """Where this point's logs and result.json live, relative to the sweep's root."""
        return f"{self.task}/{self.method}/hidden{self.num_layers}/m{self.m}_s{self.s}_seed{self.seed}"

    @property
    def trajectory_folder(self) -> str:
        """Where an IMP trajectory shared by every s of this (m, seed) logs its training."""
        return f"{self.task}/{self.method}/hidden{self.num_layers}/m{self.m}_seed{self.seed}_trajectory"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_panel(panel: Panel) -> None:
    """A bad value stops here with the setting's name."""
    if not isinstance(panel.overrides, dict):
        raise ValueError(f"sweep.panels: overrides must be a mapping like the config: {panel.overrides!r}")
    if not _is_int(panel.num_layers):
        raise ValueError(f"sweep.num_layers must be a whole number, got {panel.num_layers!r}")
    for name, values in (("mlist", panel.mlist), ("slist", panel.slist)):
        if not isinstance(values, list | tuple) or not all(_is_int(v) for v in values):
            raise ValueError(f"sweep.{name} must be a list of whole numbers, got {values!r}")
    if panel.method not in METHODS:
        raise ValueError(f"sweep.method: unknown method {panel.method!r}; available: {', '.join(METHODS)}")
    if panel.num_layers < 1:
        raise ValueError(f"sweep.num_layers must be at least 1, got {panel.num_layers}")
    for name, values in (("mlist", panel.mlist), ("slist", panel.slist)):
        if not values:
            raise ValueError(f"sweep.{name} is empty: give at least one value")
        for v in values:
            if v < 1:
                raise ValueError(f"sweep.{name}: every value must be at least 1, got {v}")
        _check_once(f"sweep.{name}", values)


def _check_once(name: str, values) -> None:
    """A value listed twice would give two points with one folder (the second would wait on the
    first's claim): refused."""
    twice = sorted(v for v, count in Counter(values).items() if count > 1)
    if twice:
        listed = ", ".join(str(v) for v in twice)
        raise ValueError(f"{name} lists {listed} more than once: give each value once")


def requested_panels(sweep) -> list[Panel]:
    """The panels a sweep asks for: ``sweep.panels`` chosen by ``sweep.method`` and
    ``sweep.num_layers`` (their m and s lists replaced by ``sweep.mlist``/``sweep.slist`` when
    given), or without panels the grid method × num_layers × mlist × slist."""
    if not sweep.panels:
        if not sweep.mlist or not sweep.slist:
            raise ValueError("give the grid: sweep.mlist and sweep.slist (or sweep.panels)")
        return [
            Panel(method, layers, list(sweep.mlist), list(sweep.slist))
            for method in sweep.method or ["aiht"]
            for layers in sweep.num_layers or [1]
        ]
    panels = []
    for entry in sweep.panels:
        try:
            panel = Panel(**entry)
        except TypeError as exc:
            raise ValueError(
                f"sweep.panels: {exc} (keys: method, num_layers, mlist, slist, overrides)"
            ) from None
        if sweep.method and panel.method not in sweep.method:
            continue
        if sweep.num_layers and panel.num_layers not in sweep.num_layers:
            continue
        panel.mlist = list(sweep.mlist or panel.mlist)
        panel.slist = list(sweep.slist or panel.slist)
        panels.append(panel)
    if not panels:
        raise ValueError("no panel of sweep.panels matches sweep.method and sweep.num_layers")
    return panels


def grid_points(panels: list[Panel], tasks: list[str], seedlist: list[int]) -> list[GridPoint]:
    """All points of the panels (``tasks[i]`` is panel i's task), in panel, m, s, seed order."""
    if not seedlist:
        raise ValueError("sweep.seedlist is empty: give at least one seed")
    for seed in seedlist:
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(f"sweep.seedlist: seeds must be from 0 to {MAX_SEED}, got {seed}")
    _check_once("sweep.seedlist", seedlist)
    points, folders = [], {}
    for index, (panel, task) in enumerate(zip(panels, tasks, strict=True)):
        check_panel(panel)
        for m, s, seed in itertools.product(panel.mlist, panel.slist, seedlist):
            point = GridPoint(task, panel.method, panel.num_layers, m, s, seed, index)
            if point.folder in folders:
                first = folders[point.folder] + 1
                raise ValueError(
                    f"the point {point.folder} is in two panels ({first} and {index + 1}): give each "
                    "method and depth once (sweep.method, sweep.num_layers, sweep.panels)"
                )
            folders[point.folder] = index
            points.append(point)
    return points


def group_jobs(points: list[GridPoint], shared_trajectory) -> list[list[GridPoint]]:
    """Points that one run serves together: ``shared_trajectory(point)`` says whether a point's
    run serves every s of its (panel, m, seed); other points run alone. Grid order kept."""
    jobs: dict[object, list[GridPoint]] = {}
    for p in points:
        key = (p.panel, p.m, p.seed) if shared_trajectory(p) else p
        jobs.setdefault(key, []).append(p)
    return list(jobs.values())
