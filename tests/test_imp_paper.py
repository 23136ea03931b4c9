"""IMP computes what the paper's code computes (docs/algorithms.md: IMP), checked against ``paper_imp``
(tests/reference_imp.py): torch DataLoaders on the global generator right after the seeded
network, a plain training loop, ``global_unstructured``. Same counts, masks, batches, and the
same metric bit for bit, full batch and minibatch, one and two hidden layers, vector outputs,
cross-entropy, idle rounds; and the project never touches torch's global generator."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from callbacks.imp.order import GlobalStream
from callbacks.imp.schedule import idle_rounds_before, paper_round_counts, prune_schedule
from datamodules.mnist import MNISTDataModule
from datamodules.planted import PlantedMLPDataModule
from tests.fake_datasets import write_mnist
from tests.imp_paper_helpers import assert_same_as_paper, project_imp
from tests.reference_imp import paper_imp, paper_loader, spec_imp


def test_stream_replays_the_passes_of_torch_dataloaders():
    """Passes over a shuffled and an unshuffled DataLoader, interleaved, after a seeded draw."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        torch.nn.Linear(7, 3)
        state = torch.get_rng_state()
        data = TensorDataset(torch.arange(23))
        shuffled, plain = DataLoader(data, batch_size=4, shuffle=True), DataLoader(data, batch_size=4)
        passes = [shuffled, plain, shuffled, shuffled, plain, plain, shuffled]
        orders = [torch.cat([b[0] for b in loader]) for loader in passes]
    stream, position = GlobalStream(state), 0
    for loader, order in zip(passes, orders, strict=True):
        shuffle = loader is shuffled
        replay = stream.loader_pass(position, 23, shuffle)
        assert torch.equal(order, replay if shuffle else torch.arange(23))
        position += 1 + int(shuffle)


def planted(m, s, n, d=5, batch_size=0, num_layers=1, output_dim=1, seed=0):
    return PlantedMLPDataModule(
        width=m,
        sparsity=s,
        seed=seed,
        nmeasurements=n,
        input_dim=d,
        batch_size=batch_size,
        num_layers=num_layers,
        output_dim=output_dim,
    )


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize(
    "n, batch_size, epochs",
    [(60, 0, 4), (60, 16, 3), (202, 2, 2)],  # full batch; 4 batches per epoch; 101 (> 100)
    ids=["full-batch", "minibatch", "over-100-batches"],
)
def test_planted_imp_equals_the_papers_computation(num_layers, n, batch_size, epochs):
    m, s, d = 4, 12, 5
    dm = planted(m, s, n, d=d, batch_size=batch_size, num_layers=num_layers)
    weights = d * m + (num_layers - 1) * m * m + m
    targets = [s] if n < 100 else [int(0.75 * weights)]  # 101 batches per epoch: three rounds
    model, imp, batches = project_imp(dm, m, 0, epochs, targets, num_layers=num_layers)
    ref_batches = []
    ref = paper_imp(
        dm.x, dm.y, m, 0, epochs, targets, num_layers=num_layers, batch_size=batch_size,
        max_label=dm.max_label, record=ref_batches,
    )  # fmt: skip
    assert len(imp.history) >= 3
    assert_same_as_paper(model, imp, batches, ref, ref_batches)


def test_vector_output_planted_imp_equals_the_papers_computation():
    dm = planted(4, 12, 60, batch_size=16, output_dim=3, seed=1)
    model, imp, batches = project_imp(dm, 4, 1, 3, [12])
    ref_batches = []
    ref = paper_imp(dm.x, dm.y, 4, 1, 3, [12], batch_size=16, max_label=dm.max_label, record=ref_batches)
    assert_same_as_paper(model, imp, batches, ref, ref_batches)


def test_rounds_that_prune_nothing_keep_their_draws():
    """8 weights, 10% a round: at 5 remaining the paper's round prunes round(0.4999…) = 0 weights
    and only then switches to one weight a round (idle again at 2). Those rounds train and
    measure for nothing, but their passes over the loaders move the generator."""
    assert paper_round_counts(8, [1], 0.1) == [7, 6, 5, 5, 4, 3, 2, 2, 1]
    assert idle_rounds_before(8, [1], 0.1) == [0, 0, 0, 1, 0, 0, 1]
    dm = planted(2, 1, 40, d=3, batch_size=8)
    model, imp, batches = project_imp(dm, 2, 0, 2, [1])
    ref_batches = []
    ref = paper_imp(dm.x, dm.y, 2, 0, 2, [1], batch_size=8, max_label=dm.max_label, record=ref_batches)
    assert ref["counts"] == paper_round_counts(8, [1], 0.1)
    assert_same_as_paper(model, imp, batches, ref, ref_batches)


@pytest.mark.parametrize(
    "total, target, prune_iters", [(30, 1, 0.1), (101, 3, 0.05), (1000, 40, 5), (57, 2, 0.3)]
)
def test_paper_rounds_less_idle_ones_are_the_schedule(total, target, prune_iters):
    counts = paper_round_counts(total, [target], prune_iters)
    effective = [c for before, c in zip([total, *counts], counts, strict=False) if c < before]
    assert [r[0] for r in prune_schedule(total, [target], prune_iters)] == effective
    assert sum(idle_rounds_before(total, [target], prune_iters)) == len(counts) - len(effective)


def test_crossentropy_imp_on_ten_classes_equals_the_papers_computation(tmp_path):
    """Vector outputs, one-hot labels, cross-entropy, accuracy on the unshuffled test loader."""
    labels = [digit for digit in range(10) for _ in range(6)]
    write_mnist(tmp_path, labels, labels, seed=3)
    dm = MNISTDataModule(
        seed=2, data_dir=str(tmp_path), download=False, batch_size=8, train_per_class=4, test_per_class=2
    )
    model, imp, batches = project_imp(dm, 5, 2, 2, [1000], loss="crossentropy", prune_iters=0.5)
    x, y, x_test, y_test = dm.x_train, dm.y_train, dm.x_val, dm.y_val
    ref_batches = []
    ref = paper_imp(
        x, y, 5, 2, 2, [1000], batch_size=8, eval_data=(x_test, y_test), crossentropy=True,
        prune_iters=0.5, record=ref_batches,
    )  # fmt: skip
    assert len(imp.history) >= 2
    assert_same_as_paper(model, imp, batches, ref, ref_batches)


def test_what_is_pruned_does_not_depend_on_lightnings_validation():
    """Lightning's validation runs a forward pass after the last step; it must not change the
    ranking (the paper's code ranks the weights of the last training forward after round 1)."""
    runs = []
    for extra in ({}, {"limit_val_batches": 1.0}):
        model, imp, _ = project_imp(planted(50, 4000, 200, d=100), 50, 0, 3, [4000], **extra)
        runs.append((model, imp))
    (a, imp_a), (b, imp_b) = runs
    assert imp_a.history == imp_b.history
    for la, lb in zip(a.net.layers, b.net.layers, strict=True):
        assert torch.equal(la.weight_mask, lb.weight_mask)


def test_imp_leaves_the_global_generator_alone():
    before = torch.get_rng_state()
    project_imp(planted(4, 12, 60, batch_size=16), 4, 0, 2, [30])
    assert torch.equal(torch.get_rng_state(), before)


def test_the_ranking_is_the_trained_weights_then_the_last_forwards():
    """The paper's pruning ranks torch's ``module.weight``: the trained weight in round 1, and
    from round 2 on (layers reparametrised) the product the hook computed at the last forward,
    before the last Adam step. On this point both other choices prune differently."""
    dm = planted(50, 4000, 200, d=100)
    model, imp, batches = project_imp(dm, 50, 0, 3, [4000])
    ref = paper_imp(dm.x, dm.y, 50, 0, 3, [4000], max_label=dm.max_label)
    assert_same_as_paper(model, imp, batches, ref)
    for ranking, same in (("paper", True), ("trained", False), ("last_forward", False)):
        masks = spec_imp(dm.x, dm.y, m=50, seed=0, epochs=3, targets=[4000], ranking=ranking)["masks"]
        assert all(torch.equal(a, b) for a, b in zip(masks, ref["masks"], strict=True)) == same


def test_prune_straight_to_each_target_equals_the_papers_computation(tmp_path):
    """prune_iters 0: the paper trains a fresh network per target (reseeded, so the same draws)
    and prunes it straight to s; one training here, pruned to each s in turn."""
    dm = planted(4, 10, 60, batch_size=16)
    model, imp, _ = project_imp(dm, 4, 0, 3, [10], prune_iters=0)
    assert_same_as_paper(
        model,
        imp,
        None,
        paper_imp(dm.x, dm.y, 4, 0, 3, [10], batch_size=16, max_label=dm.max_label, prune_iters=0),
    )
    labels = [digit for digit in range(10) for _ in range(6)]
    write_mnist(tmp_path, labels, labels, seed=4)
    dm = MNISTDataModule(
        seed=1, data_dir=str(tmp_path), download=False, batch_size=8, train_per_class=4, test_per_class=2
    )
    model, imp, _ = project_imp(dm, 3, 1, 2, [300, 1000, 2000], loss="crossentropy", prune_iters=0)
    ref = paper_imp(
        dm.x_train, dm.y_train, 3, 1, 2, [300, 1000, 2000], batch_size=8, eval_data=(dm.x_val, dm.y_val),
        crossentropy=True, prune_iters=0,
    )  # fmt: skip
    assert_same_as_paper(model, imp, None, ref)


def test_the_references_loader_gives_a_tensor_datasets_batches():
    """The reference gathers a batch by indexing; a DataLoader over a TensorDataset stacks rows."""
    x, y = torch.randn(23, 3), torch.randn(23)
    passes = []
    for loader in (paper_loader, lambda x, y, b, s: DataLoader(TensorDataset(x, y), batch_size=b, shuffle=s)):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            passes.append([b for shuffle in (True, False, True) for b in loader(x, y, 5, shuffle)])
    assert len(passes[0]) == len(passes[1]) == 15
    for (xa, ya), (xb, yb) in zip(*passes, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
