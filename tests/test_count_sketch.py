"""The paper's count sketch (callbacks/aiht/count_sketch.py) against the tests' numpy transcription of
the count sketch of docs/algorithms.md (tests/reference_sketch.py): hashes, signs, cells and estimates
bitwise; then its estimates, top-s, memory and state."""

import math

import numpy as np
import pytest
import torch

from callbacks.aiht.count_sketch import CountSketch, paper_hashes, sketch_width
from tests.reference_sketch import A, B, SpecSketch, spec_hash, spec_sign_table

# Indices in several sign blocks: the first, the edges of the second, a far one.
SPREAD = [0, 1, 2, 4318, 4319, 99_999, 100_000, 100_001, 199_999, 200_000, 623_456, 999_999]


def random_vector(n: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def sample_indices(n: int, count: int, seed: int) -> torch.Tensor:
    drawn = torch.randint(0, n, (count,), generator=torch.Generator().manual_seed(seed))
    return torch.cat([torch.tensor(SPREAD), drawn])


def test_width_is_s_log_n_over_s():
    assert sketch_width(200, 2200) == int(200 * math.log(11)) == 479
    assert sketch_width(100, 150) == 100  # ln(N/s) < 1: the width is s


def test_hashes_and_cells_equal_spec():
    n, width = 1_000_000, 479
    idx = sample_indices(n, 500, 0)
    assert all(A[r] * 4319 + B[r] >= 2**32 for r in range(4))  # a·i + b wraps modulo 2³² from here
    hashes = paper_hashes(idx)
    cells = CountSketch(n, width).locate(idx) >> 1
    for r in range(4):
        expected = [spec_hash(i, r) for i in idx.tolist()]
        assert hashes[r].tolist() == expected
        assert cells[r].tolist() == [h % width for h in expected]


def test_signs_equal_spec_in_every_block():
    n = 1_000_000
    idx = sample_indices(n, 500, 1)
    negative = CountSketch(n, 100).locate(idx) & 1
    tables = {}
    for column, i in enumerate(idx.tolist()):
        block = i // 100_000
        if block not in tables:
            tables[block] = spec_sign_table(block)
        expected = (tables[block][i % 100_000] < 0).astype(int).tolist()
        assert negative[:, column].tolist() == expected, i
    assert len(tables) == 10


def add_in_blocks(sketch: CountSketch, spec: SpecSketch, starts: list[int], size: int, deltas: torch.Tensor):
    """The same updates, block after block, into the project's sketch and the transcription."""
    for b, start in enumerate(starts):
        idx = torch.arange(start, start + size)
        chunk = deltas[b * size : (b + 1) * size]
        sketch.add(sketch.locate(idx), chunk)
        spec.add(idx.tolist(), chunk.numpy())


def test_cells_equal_np_add_at_in_index_order():
    """A narrow table (many updates per cell) across the first sign block's end: bitwise equal to
    ``np.add.at``, which adds each float64 update to a float32 cell in float64 and rounds."""
    n, budget = 300_000, 3  # width 3 · ln(100000) = 34
    spec = SpecSketch(n, budget)
    sketch = CountSketch(n, spec.width)
    assert sketch.width == sketch_width(budget, n) == spec.width == 34
    starts, size = [99_700, 0, 250_000, 99_900], 400
    deltas = random_vector(len(starts) * size, 3)
    add_in_blocks(sketch, spec, starts, size, deltas)
    assert sketch.table.dtype == torch.float32
    # exact: vector AIHT's np.add.at, one float64 add rounded to float32 per update, in index order
    assert np.array_equal(sketch.table.numpy(), spec.table)
    # The check is sharp: rounding each update to float32 first, or adding in another order,
    # gives other cells.
    for variant in ("float32 updates", "reversed order"):
        other = np.zeros_like(spec.table)
        for b, start in enumerate(starts):
            idx = list(range(start, start + size))
            chunk = deltas[b * size : (b + 1) * size].numpy()
            if variant == "reversed order":
                idx, chunk = idx[::-1], chunk[::-1]
            for r in range(4):
                updates = np.array([spec.sign(i, r) for i in idx]) * chunk
                if variant == "float32 updates":
                    updates = updates.astype(np.float32)
                np.add.at(other[r], [spec.cell(i, r) for i in idx], updates)
        assert not np.array_equal(other, spec.table), variant


def test_float32_updates_equal_np_add_at():
    n, budget = 150_000, 5
    spec = SpecSketch(n, budget)
    sketch = CountSketch(n, spec.width)
    deltas = random_vector(600, 4).float()
    add_in_blocks(sketch, spec, [99_800, 20], 300, deltas)
    # exact: vector AIHT's np.add.at, one float64 add rounded to float32 per update, in index order
    assert np.array_equal(sketch.table.numpy(), spec.table)


def test_staged_blocks_equal_block_by_block_adds():
    """``stage`` then ``add_staged`` block by block (the selection's path) adds what the
    transcription adds block after block; blocks may revisit indices."""
    n, budget = 200_000, 4
    spec = SpecSketch(n, budget)
    sketch = CountSketch(n, spec.width)
    starts, sizes = [99_990, 5, 99_995, 150_000, 7], [20, 60, 3, 40, 1]
    idx = torch.cat([torch.arange(a, a + size) for a, size in zip(starts, sizes, strict=True)])
    deltas = random_vector(idx.numel(), 5)
    staged = sketch.stage(sketch.locate(idx), deltas, sizes)
    assert max(len(edges) for _, _, edges in staged) > 2  # some block meets a cell twice
    first = 0
    for (cells, updates, edges), size in zip(staged, sizes, strict=True):
        sketch.add_staged(cells, updates, edges)
        spec.add(idx[first : first + size].tolist(), deltas[first : first + size].numpy())
        first += size
        # exact: vector AIHT's np.add.at, one float64 add rounded to float32 per update, in index order
        assert np.array_equal(sketch.table.numpy(), spec.table)


def test_estimates_equal_spec_median():
    n, budget = 250_000, 20
    spec = SpecSketch(n, budget)
    sketch = CountSketch(n, spec.width)
    add_in_blocks(sketch, spec, [0, 99_500, 200_000], 1000, random_vector(3000, 6))
    idx = sample_indices(n, 300, 7)
    estimates = sketch.estimate(sketch.locate(idx))
    assert estimates.dtype == torch.float64
    # exact: the same two middle values of sign·cell, summed and halved, as np.median does
    assert estimates.tolist() == [spec.estimate(i) for i in idx.tolist()]


def test_estimate_is_exact_without_collisions():
    n, width = 1_000_000, 500
    sketch = CountSketch(n, width)
    idx = torch.tensor([3, 77, 4096, 500_000, 999_999])
    loc = sketch.locate(idx)
    for row in loc >> 1:  # the setup: these five entries meet nowhere
        assert row.unique().numel() == idx.numel()
    values = torch.tensor([2.5, -1e-3, 7.0, -300.0, 1e-9], dtype=torch.float64)
    # exact: no collisions, so each cell holds float32(v), then float32(v) + v rounded, which is
    # float32(2v); the median of four equal values is that value
    sketch.add(loc, values)
    assert torch.equal(sketch.estimate(loc), values.float().double())  # float32 cells
    sketch.add(loc, values)
    assert torch.equal(sketch.estimate(loc), (2 * values).float().double())
    assert int((sketch.table != 0).sum()) == 4 * idx.numel()


def test_estimates_within_the_usual_bound():
    """Each row's error on entry i has mean square ‖x_{−i}‖²/w; the median of 4 rarely strays
    beyond 2‖x‖/√w, and a few planted heavy entries are all within 3‖x_{−i}‖/√w."""
    n, width = 20000, 200
    x = random_vector(n, 0)
    heavy = torch.tensor([11, 5000, 12345, 19999])
    x[heavy] = torch.tensor([40.0, -55.0, 70.0, -90.0], dtype=torch.float64)
    sketch = CountSketch(n, width)
    loc = sketch.locate(torch.arange(n))
    sketch.add(loc, x)
    rows = sketch.table.gather(1, loc >> 1).double() * torch.where((loc & 1).bool(), -1.0, 1.0).double()
    per_row = (rows - x).square().mean(1) / ((x.square().sum() - x.square()).mean() / width)
    assert ((per_row > 0.7) & (per_row < 1.3)).all(), per_row
    error = (sketch.estimate(loc) - x).abs()
    assert float((error > 2 * x.norm() / math.sqrt(width)).double().mean()) < 0.01
    rest = (x.square().sum() - x[heavy].square()).sqrt()
    assert (error[heavy] <= 3 * rest / math.sqrt(width)).all()


def test_signs_are_balanced_and_rows_differ():
    sketch = CountSketch(100_000, 1000)
    loc = sketch.locate(torch.arange(100_000))
    negative = (loc & 1).double().mean(1)
    assert ((negative > 0.48) & (negative < 0.52)).all()
    cells = (loc >> 1).double()
    assert (cells.min(1).values == 0).all() and (cells.max(1).values == 999).all()
    assert float(torch.corrcoef(cells)[0, 1:].abs().max()) < 0.02


def test_top_s_by_sketch_equals_true_top_s_with_clear_heavy_hitters():
    n, budget, heavy = 10000, 100, 10
    x = random_vector(n, 1, scale=0.01)
    generator = torch.Generator().manual_seed(2)
    positions = torch.randperm(n, generator=generator)[:heavy]
    signs = torch.where(torch.rand(heavy, generator=generator) < 0.5, -1.0, 1.0).double()
    x[positions] = signs * (10 + 5 * torch.rand(heavy, generator=generator, dtype=torch.float64))
    sketch = CountSketch(n, sketch_width(budget, n))
    loc = sketch.locate(torch.arange(n))
    sketch.add(loc, x)
    top = torch.topk(sketch.estimate(loc).abs(), heavy).indices
    assert set(top.tolist()) == set(positions.tolist())


def test_memory_is_the_table_and_the_sign_blocks_touched():
    n, budget = 10**7, 200
    sketch = CountSketch(n, sketch_width(budget, n))
    table_bytes = 4 * sketch_width(budget, n) * 4  # float32 cells
    assert sketch.nbytes() == table_bytes
    loc = sketch.locate(torch.tensor([1, 2, 99_999, n - 1]))  # sign blocks 0 and 99
    assert sorted(sketch._sign_bits) == [0, 99]
    assert sketch.nbytes() == table_bytes + 2 * 100_000
    tensors = [v for v in vars(sketch).values() if isinstance(v, torch.Tensor)]
    assert max(t.numel() for t in tensors) == sketch.table.numel()
    sketch.add(loc, torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=torch.float64))
    copy = CountSketch(n, sketch.width)
    copy.load_state_dict(sketch.state_dict())
    assert torch.equal(copy.estimate(loc), sketch.estimate(loc))
    with pytest.raises(ValueError, match="does not fit"):
        CountSketch(n, sketch.width + 1).load_state_dict(sketch.state_dict())
    earlier = {"table": sketch.table.double(), "seed": 20250923, "num_entries": n}  # the old hashes' state
    with pytest.raises(ValueError, match="another sketch"):
        copy.load_state_dict(earlier)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_sketch_equals_spec_bit_for_bit():
    n, budget = 250_000, 3
    spec = SpecSketch(n, budget)
    sketch = CountSketch(n, spec.width, device="cuda")
    starts, size = [99_700, 0, 200_000], 500
    deltas = random_vector(len(starts) * size, 8)
    for b, start in enumerate(starts):
        idx = torch.arange(start, start + size)
        chunk = deltas[b * size : (b + 1) * size]
        sketch.add(sketch.locate(idx.cuda()), chunk.cuda())
        spec.add(idx.tolist(), chunk.numpy())
    # exact: vector AIHT's np.add.at, one float64 add rounded to float32 per update, in index order
    assert np.array_equal(sketch.table.cpu().numpy(), spec.table)
    idx = sample_indices(n, 200, 9)
    estimates = sketch.estimate(sketch.locate(idx.cuda())).cpu()
    # exact: the same two middle values of sign·cell, summed and halved, as np.median does
    assert estimates.tolist() == [spec.estimate(i) for i in idx.tolist()]
