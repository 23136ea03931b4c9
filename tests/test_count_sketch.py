"""The count sketch of SPEC §3 (callbacks/count_sketch.py): estimates, bounds, top-s, memory."""

import math

import pytest
import torch

from callbacks.count_sketch import CountSketch, sketch_width, sum_equal_keys


def random_vector(n: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def sketch_of(x: torch.Tensor, width: int) -> tuple[CountSketch, torch.Tensor]:
    sketch = CountSketch(x.numel(), width)
    loc = sketch.locate(torch.arange(x.numel()))
    sketch.add(loc, x)
    return sketch, loc


def test_width_is_s_log_n_over_s():
    assert sketch_width(200, 2200) == int(200 * math.log(11)) == 479
    assert sketch_width(100, 150) == 100  # ln(N/s) < 1: the width is s


def test_estimate_is_exact_without_collisions():
    n, width = 1_000_000, 500
    sketch = CountSketch(n, width)
    idx = torch.tensor([3, 77, 4096, 500_000, 999_999])
    loc = sketch.locate(idx)
    cells = loc >> 1
    for row in cells:  # the setup: these five entries meet nowhere
        assert row.unique().numel() == idx.numel()
    values = torch.tensor([2.5, -1e-3, 7.0, -300.0, 1e-9], dtype=torch.float64)
    sketch.add(loc, values)
    assert torch.equal(sketch.estimate(loc), values)
    sketch.add(loc, values)
    assert torch.equal(sketch.estimate(loc), 2 * values)
    assert int((sketch.table != 0).sum()) == 4 * idx.numel()


def test_estimates_within_the_usual_bound():
    """Each row's error on entry i has mean square ‖x_{−i}‖²/w; the median of 4 rarely strays
    beyond 2‖x‖/√w, and a few planted heavy entries are all within 3‖x_{−i}‖/√w."""
    n, width = 20000, 200
    x = random_vector(n, 0)
    heavy = torch.tensor([11, 5000, 12345, 19999])
    x[heavy] = torch.tensor([40.0, -55.0, 70.0, -90.0], dtype=torch.float64)
    sketch, loc = sketch_of(x, width)
    rows = sketch.table.gather(1, loc >> 1) * torch.where((loc & 1).bool(), -1.0, 1.0).double()
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
    sketch, loc = sketch_of(x, sketch_width(budget, n))
    top = torch.topk(sketch.estimate(loc).abs(), heavy).indices
    assert set(top.tolist()) == set(positions.tolist())


def test_adds_are_deterministic_and_sum_in_the_order_given():
    n, width = 5000, 7  # a narrow table: many entries meet in each cell
    x = random_vector(n, 3)
    first, _ = sketch_of(x, width)
    second = CountSketch(n, width)
    for block in torch.arange(n).split(300):  # the same updates in blocks
        second.add(second.locate(block), x[block])
    plain = torch.zeros(4, width, dtype=torch.float64)
    loc = first.locate(torch.arange(n))
    for row in range(4):
        for i in range(n):
            code = int(loc[row, i])
            plain[row, code >> 1] += -x[i] if code & 1 else x[i]
    torch.testing.assert_close(first.table, plain, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(second.table, plain, rtol=1e-12, atol=1e-12)
    again, _ = sketch_of(x, width)
    assert torch.equal(again.table, first.table)


def test_sum_equal_keys_keeps_the_given_order():
    keys = torch.tensor([5, 2, 5, 5, 2, 9])
    values = torch.tensor([1e16, 1.0, 1.0, -1e16, 3.0, 4.0], dtype=torch.float64)
    distinct, sums = sum_equal_keys(keys, values)
    assert distinct.tolist() == [2, 5, 9]
    assert sums.tolist() == [4.0, ((1e16 + 1.0) + -1e16), 4.0]  # 0.0: 1 is lost in order


def test_memory_is_the_table_only_and_state_round_trips():
    n, budget = 10**7, 200
    sketch = CountSketch(n, sketch_width(budget, n))
    tensors = [v for v in vars(sketch).values() if isinstance(v, torch.Tensor)]
    assert max(t.numel() for t in tensors) == sketch.table.numel() == 4 * sketch_width(budget, n)
    assert sketch.nbytes() == 4 * sketch.width * 8
    loc = sketch.locate(torch.tensor([1, 2, n - 1]))
    sketch.add(loc, torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64))
    copy = CountSketch(n, sketch.width)
    copy.load_state_dict(sketch.state_dict())
    assert torch.equal(copy.estimate(loc), sketch.estimate(loc))
    with pytest.raises(ValueError, match="does not fit"):
        CountSketch(n, sketch.width + 1).load_state_dict(sketch.state_dict())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_table_equals_cpu_table_bit_for_bit():
    n, width = 50000, 300
    x = random_vector(n, 4)
    cpu, _ = sketch_of(x, width)
    gpu = CountSketch(n, width, device="cuda")
    for block in torch.arange(n).split(1000):
        gpu.add(gpu.locate(block.cuda()), x[block].cuda())
    blockwise = CountSketch(n, width)
    for block in torch.arange(n).split(1000):
        blockwise.add(blockwise.locate(block), x[block])
    assert torch.equal(gpu.table.cpu(), blockwise.table)
    assert torch.equal(gpu.locate(torch.arange(n, device="cuda")).cpu(), cpu.locate(torch.arange(n)))
