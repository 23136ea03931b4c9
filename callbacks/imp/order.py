"""The order in which the paper's IMP sees its examples (docs/algorithms.md: IMP), replayed without touching
torch's global generator.

In the paper's code every order comes from torch's global generator, right where the seeded
initialisation of the network leaves it (``ReluMLP.initial_rng_state``). Each pass over a torch
DataLoader draws one int64 (its iterator's base seed); a shuffled one then draws a second, seeds a
fresh ``torch.Generator`` with it and takes ``randperm(n)`` from that. A round with at most 100
batches per epoch makes one pass over the training loader and reuses that list of batches for
every epoch of the round; with more, one pass per epoch. After each prune the measurement makes
one pass over the evaluation loader. Nothing else draws.

``GlobalStream`` replays that stream from a private generator: the pass that starts at draw
``position`` is found by skipping ``position`` draws. ``IMPOrder`` is the training loader's
sampler under IMP (``set_epoch`` / ``permutation``, as ``datamodules/tensor_batches.py`` asks):
the IMP callback keeps ``round_starts``, the position where each round's first pass starts, and
asks for the measurements' positions.
"""

import torch
from torch import Tensor

REUSE_LIMIT = 100  # at most this many batches per epoch: one pass per round, reused every epoch


def draws_per_pass(shuffle: bool) -> int:
    """The base seed, and the sampler's seed when the loader shuffles."""
    return 1 + int(shuffle)


class GlobalStream:
    """torch's global CPU generator as the paper's run leaves it after the seeded initialisation."""

    def __init__(self, state: Tensor) -> None:
        self.state = state

    def loader_pass(self, position: int, n: int, shuffle: bool) -> Tensor | None:
        """The permutation of n examples that a pass starting at draw ``position`` yields
        (None for a loader that does not shuffle: the natural order)."""
        generator = torch.Generator()
        generator.set_state(self.state)
        # The draws before this pass, and this pass's base seed (the iterator's, unused here).
        torch.empty(position + 1, dtype=torch.int64).random_(generator=generator)
        if not shuffle:
            return None
        seed = int(torch.empty((), dtype=torch.int64).random_(generator=generator))
        return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


class IMPOrder:
    """The training loader's example order under IMP, round by round.

    Args:
        stream: the replayed global generator.
        n: training examples.
        batches_per_epoch: the training loader's length.
        epochs_per_round: epochs trained before each prune.
        shuffle: whether the paper's training loader shuffles.
        round_starts: the draw where each round's first pass starts (the IMP callback's list,
            shared: it appends a round's start when the round before it closes).
    """

    def __init__(
        self,
        stream: GlobalStream,
        n: int,
        batches_per_epoch: int,
        epochs_per_round: int,
        shuffle: bool,
        round_starts: list[int],
    ) -> None:
        self.stream, self.n, self.shuffle = stream, n, shuffle
        self.epochs_per_round, self.round_starts = epochs_per_round, round_starts
        self.passes_per_round = 1 if batches_per_epoch <= REUSE_LIMIT else epochs_per_round
        self.epoch = 0
        self._last: tuple[int, Tensor | None] | None = None

    @property
    def training_draws(self) -> int:
        """Draws the training loader takes in one round."""
        return self.passes_per_round * draws_per_pass(self.shuffle)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def permutation(self) -> Tensor | None:
        """This epoch's order (None: the natural order)."""
        round_index, epoch_in_round = divmod(self.epoch, self.epochs_per_round)
        position = self.round_starts[round_index]
        if self.passes_per_round > 1:
            position += epoch_in_round * draws_per_pass(self.shuffle)
        if self._last is None or self._last[0] != position:
            self._last = (position, self.stream.loader_pass(position, self.n, self.shuffle))
        return self._last[1]

    def measurement_position(self, round_index: int, earlier_measurements: int, measure_draws: int) -> int:
        """Where the pass of a measurement at the end of ``round_index`` starts."""
        return self.round_starts[round_index] + self.training_draws + earlier_measurements * measure_draws

    def close_round(self, round_index: int, measurements: int, measure_draws: int, idle_rounds: int) -> None:
        """Records where the next round starts: after this round's measurements and after the
        draws of the paper's idle rounds that come before it (each: training, one measurement)."""
        start = self.measurement_position(round_index, measurements, measure_draws)
        start += idle_rounds * (self.training_draws + measure_draws)
        del self.round_starts[round_index + 1 :]
        self.round_starts.append(start)
