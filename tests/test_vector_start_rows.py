"""Which rows of W1 and W2 take start values (vector outputs): the paper's test, a row's largest
entry equal to 0, restarts a unit that keeps only negative weights and zeros at the first batch of
every epoch; ``aiht.start_rows all_zero`` restarts all-zero rows only. Both rules, in dense and
compact state, against the plain re-implementation in tests/reference_vector.py."""

import pytest
import torch

from callbacks.aiht import AIHT
from tests.reference_vector import SketchAccumulator, spec_vector_run
from tests.vector_helpers import tiny_vector_run

M, S, D, K, N, BATCH, EPOCHS = 4, 12, 5, 3, 64, 16, 3
PER_EPOCH = N // BATCH
RESTART = 2 * PER_EPOCH  # epoch 2's first update: unit 1 then holds negative weights and zeros only
STORAGE = {"dense": {"storage": "dense"}, "compact": {"storage": "compact", "gradient_memory_mb": 1e-3}}


def run(rule: str, storage: str = "dense", batch_size: int = BATCH, epochs: int = EPOCHS):
    return tiny_vector_run(
        m=M, s=S, n=N, d=D, k=K, epochs=epochs, batch_size=batch_size, start_rows=rule,
        model_kwargs=STORAGE[storage],
    )[4]  # fmt: skip


def reference(rec, rule: str, per_epoch: int = PER_EPOCH):
    acc = SketchAccumulator(M * D + M * K, S)
    return spec_vector_run(rec.batches, M, D, K, S, rec.gates[0], acc, False, per_epoch, start_rows=rule)


def negative_rows(w: torch.Tensor) -> list[int]:
    """Rows whose largest entry is 0 but that hold a nonzero: negative weights and zeros."""
    return ((w.amax(1) == 0) & (w != 0).any(1)).nonzero().squeeze(1).tolist()


def assert_equal_iterates(rec, expected) -> None:
    assert len(rec.weights) == len(expected)
    for (w1, w2), (r1, r2) in zip(rec.weights, expected, strict=True):
        assert torch.equal(w1 != 0, r1 != 0) and torch.equal(w2 != 0, r2 != 0)
        torch.testing.assert_close(w1, r1, rtol=1e-9, atol=1e-14)
        torch.testing.assert_close(w2, r2, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("storage", ["dense", "compact"])
@pytest.mark.parametrize("rule", ["max_zero", "all_zero"])
def test_each_rule_equals_the_plain_reimplementation(rule, storage):
    rec = run(rule, storage)
    # before the first batch of epoch 2, unit 1 keeps negative weights and zeros only, in W1 and W2
    w1, w2 = rec.weights[RESTART - 1]
    assert 1 in negative_rows(w1) and 1 in negative_rows(w2)
    assert_equal_iterates(rec, reference(rec, rule))


def test_the_default_is_the_papers_test_and_the_rules_part_ways_at_an_epochs_first_batch():
    default, paper, old = (run(rule) for rule in (None, "max_zero", "all_zero"))
    assert AIHT().vector.start_rows == "max_zero"
    for ours, theirs in zip(default.weights, paper.weights, strict=True):
        assert torch.equal(ours[0], theirs[0]) and torch.equal(ours[1], theirs[1])
    differs = [
        t for t, (a, b) in enumerate(zip(paper.weights, old.weights, strict=True))
        if not (torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]))
    ]  # fmt: skip
    assert differs and differs[0] == RESTART


def test_under_the_papers_test_a_negative_unit_is_restarted_by_its_start_values():
    """At epoch 2's first batch unit 1's W1 row (negative weights and zeros) is replaced by its
    start values: the reference run without that restart differs from the pipeline's, with it
    they agree (the rule's effect, on the unit's own row)."""
    rec = run("max_zero")
    t = RESTART
    w1_before = rec.weights[t - 1][0]
    assert 1 in negative_rows(w1_before)
    ours = rec.weights[t][0][1]
    assert not torch.equal(ours, reference(rec, "all_zero")[t][0][1])
    torch.testing.assert_close(ours, reference(rec, "max_zero")[t][0][1], rtol=1e-9, atol=1e-14)


def test_full_batch_restarts_at_the_first_update_only_so_the_rules_agree():
    runs = [run(rule, batch_size=0, epochs=5) for rule in ("max_zero", "all_zero")]
    for a, b in zip(runs[0].weights, runs[1].weights, strict=True):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert_equal_iterates(runs[0], reference(runs[0], "max_zero", per_epoch=1))


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="aiht.start_rows must be one of max_zero, all_zero"):
        AIHT(start_rows="negative")
