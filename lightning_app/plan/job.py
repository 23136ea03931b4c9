"""A job of a sweep, resolved once: the points one training run serves (one point, or every s of
one IMP trajectory) with everything that running and recording them needs, so that neither goes
back to the plan: the run's configuration, the folder it logs to, whether it exports its networks,
and each point's identity and the settings its result records."""

import copy
from collections.abc import Sequence
from dataclasses import dataclass

from jsonargparse import Namespace

from lightning_app.plan.grid import GridPoint


@dataclass(frozen=True, eq=False)
class Job(Sequence[GridPoint]):
    """A sequence of the points one run serves, in grid order, with their resolved settings.

    Attributes:
        points: the points.
        config: the run's configuration: its panel's, with the first point's m, s, seed, depth
            and network (the points of a shared IMP trajectory differ in s only, which their
            data does not depend on).
        folder: where the run logs, relative to the sweep's folder: the point's folder, or the
            trajectory's when one run serves every s.
        export: whether each point's trained network is saved (``sweep.export``).
        identity: every setting that changes what the points compute (the same for every point
            of a job: it leaves out the point's place in the grid).
        base_results: per point, the settings its result records.
    """

    points: tuple[GridPoint, ...]
    config: Namespace
    folder: str
    export: bool
    identity: dict
    base_results: dict[GridPoint, dict]

    def __getitem__(self, index):
        return self.points[index]

    def __len__(self) -> int:
        return len(self.points)

    @property
    def method(self) -> str:
        return self.points[0].method

    def base_result(self, point: GridPoint) -> dict:
        """A fresh copy of the settings ``point``'s result records."""
        return copy.deepcopy(self.base_results[point])
