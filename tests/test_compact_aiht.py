"""Compact state (the kept pairs, the gradient in chunks of units) gives the dense network's
supports and iterates, through the real Lightning pipeline."""

import pytest
import torch

from callbacks.aiht import LayerByLayer
from tests.helpers import RepeatedInputs, resume_from, tiny_run

TINY_CHUNKS = {"storage": "compact", "gradient_memory_mb": 1e-3}  # one unit per chunk


def assert_equal_to_rounding(compact, dense):
    """Dense and compact sum the same products in other orders (and BLAS blocks them by the CPU's
    vector width), so they agree to rounding relative to the largest entry: an entry left small by
    cancellation can differ by more than 1e-10 of itself (seen on one CPU: 8e-18 on 3e-9)."""
    torch.testing.assert_close(compact, dense, rtol=1e-10, atol=1e-12 * float(dense.abs().max()))


def assert_same_iterates(dense_rec, compact_rec):
    assert len(dense_rec.weights) == len(compact_rec.weights)
    for dense, compact in zip(dense_rec.weights, compact_rec.weights, strict=True):
        assert torch.equal(dense != 0, compact != 0)
        assert_equal_to_rounding(compact, dense)
    assert dense_rec.weights[-1].abs().sum() > 0


def both(**kwargs):
    dense = tiny_run(model_kwargs={"storage": "dense"}, **kwargs)
    compact = tiny_run(model_kwargs=TINY_CHUNKS, **kwargs)
    assert dense[1].storage == "dense" and compact[1].storage == "compact"
    return dense, compact


@pytest.mark.parametrize("convex", [False, True])
@pytest.mark.parametrize("batch_size", [0, 16])
def test_compact_iterates_equal_dense(convex, batch_size):
    epochs = 6 if batch_size == 0 else 2
    dense, compact = both(m=9, s=7, d=6, epochs=epochs, batch_size=batch_size, convex=convex)
    assert_same_iterates(dense[4], compact[4])
    for g_dense, g_compact in zip(dense[4].gates, compact[4].gates, strict=True):
        assert_equal_to_rounding(g_compact, g_dense)
    assert float(compact[0].callback_metrics["val/psnr"]) == pytest.approx(
        float(dense[0].callback_metrics["val/psnr"]), abs=1e-8
    )


def test_compact_ties_equal_dense():
    """Equal input columns: equal gradient entries tie at the cut (odd s), in the first update
    and later; the chunks of a few units put tied entries in different chunks."""
    dense, compact = both(m=5, s=7, d=6, epochs=6, datamodule_class=RepeatedInputs)
    assert_same_iterates(dense[4], compact[4])


@pytest.mark.parametrize("batch_size, convex", [(0, False), (16, False), (0, True)])
def test_compact_two_hidden_layers_equal_dense(batch_size, convex):
    """Layer 2 of a compact network sees only the features of layer 1's units with nonzeros."""
    m, s, epochs = 6, 8, 3
    dense, compact = both(
        m=m, s=s, d=6, n=64, epochs=epochs, num_layers=2, batch_size=batch_size, convex=convex
    )
    assert_same_iterates(dense[4], compact[4])
    assert compact[1].layer == 1
    first = dense[1].frozen.matrix(0).to_dense()
    frozen = compact[1].frozen.matrix(0).to_dense()
    assert torch.equal(frozen != 0, first != 0)
    assert_equal_to_rounding(frozen, first)
    active = (first != 0).any(1).nonzero().squeeze(1)
    assert 0 < active.numel() < m
    per_epoch = len(dense[4].batches) // (2 * epochs)
    for (x_dense, _), (x_compact, _) in zip(
        dense[4].batches[epochs * per_epoch :], compact[4].batches[epochs * per_epoch :], strict=True
    ):
        assert x_compact.shape[1] == active.numel()
        torch.testing.assert_close(x_compact, x_dense[:, active], rtol=1e-12, atol=1e-12)
    x = dense[2].x
    torch.testing.assert_close(compact[1](x), dense[1](x), rtol=1e-10, atol=1e-12)


def test_compact_vector_two_hidden_layers_equal_dense():
    from tests.vector_helpers import tiny_vector_run

    kwargs = dict(m=6, s=16, d=5, k=3, epochs=3, callbacks=[LayerByLayer()])
    dense = tiny_vector_run(model_kwargs={"storage": "dense", "num_layers": 2}, **kwargs)
    compact = tiny_vector_run(model_kwargs={**TINY_CHUNKS, "num_layers": 2}, **kwargs)
    assert compact[1].layer == 1 and len(dense[4].weights) == 6
    for (d1, d2), (c1, c2) in zip(dense[4].weights, compact[4].weights, strict=True):
        assert torch.equal(d1 != 0, c1 != 0) and torch.equal(d2 != 0, c2 != 0)
        assert_equal_to_rounding(c1, d1)
        assert_equal_to_rounding(c2, d2)


def test_compact_checkpoint_in_layer_two_resumes_equal(tmp_path):
    from pytorch_lightning.callbacks import ModelCheckpoint

    kwargs = dict(m=6, s=8, d=6, n=64, epochs=3, num_layers=2, batch_size=16, model_kwargs=TINY_CHUNKS)
    whole = tiny_run(**kwargs)
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, every_n_epochs=1, filename="{epoch}")
    tiny_run(callbacks=[ckpt], enable_checkpointing=True, max_steps=4 * 4, **kwargs)
    resumed = tiny_run(**resume_from(tmp_path / "epoch=3.ckpt"), **kwargs)
    assert resumed[1].layer == 1
    assert torch.equal(resumed[1].weight, whole[1].weight)
    assert float(resumed[0].callback_metrics["val/psnr"]) == float(whole[0].callback_metrics["val/psnr"])


def test_compact_state_holds_pairs_only():
    _, model, *_ = tiny_run(m=50, s=6, d=6, epochs=3, model_kwargs=TINY_CHUNKS)
    sizes = [t.numel() for t in model.state_dict().values() if isinstance(t, torch.Tensor)]
    assert max(sizes) <= 6 and model.nnz() <= 6


def test_auto_takes_compact_above_the_budget():
    from tests.helpers import gated_model

    assert gated_model(width=1000, input_dim=100).storage == "dense"
    assert gated_model(width=1000, input_dim=100, dense_memory_mb=1).storage == "compact"
    assert gated_model(width=10**6, input_dim=100).storage == "compact"
    with pytest.raises(ValueError, match="model.net.storage"):
        gated_model(storage="sparse")


@pytest.mark.parametrize("batch_size", [0, 16])
def test_compact_resume_from_checkpoint_ends_equal(tmp_path, batch_size):
    from pytorch_lightning.callbacks import ModelCheckpoint

    epochs = 5 if batch_size == 0 else 3
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, every_n_epochs=1, filename="{epoch}")
    kwargs = dict(epochs=epochs, batch_size=batch_size, model_kwargs=TINY_CHUNKS)
    _, full, *_ = tiny_run(callbacks=[ckpt], enable_checkpointing=True, **kwargs)
    _, model, *_ = tiny_run(**resume_from(tmp_path / "epoch=1.ckpt"), **kwargs)
    assert torch.equal(model.weight, full.weight)
    assert torch.equal(model.gates, full.gates)


class IntegerData(RepeatedInputs):
    """Five examples of two small-integer inputs and integer labels: the first update's gradient
    is exact, and the 30 units' random gates fall into a few patterns, so entries of different
    units tie exactly at the cut."""

    def setup(self, stage: str) -> None:
        super().setup(stage)
        gen = torch.Generator().manual_seed(4)
        self.x = torch.randint(-3, 4, self.x.shape, generator=gen).to(self.x)
        self.y = torch.randint(-5, 6, self.y.shape, generator=gen).to(self.y)
        self.max_label = float(self.y.abs().max())


def test_compact_ties_across_chunks_equal_dense():
    from tests.reference import dense_a, spec_gates

    m, d, s = 30, 2, 7
    kwargs = dict(m=m, s=s, d=d, n=5, epochs=3, datamodule_class=IntegerData)
    dense = tiny_run(model_kwargs={"storage": "dense"}, **kwargs)
    one_unit_chunks = {"storage": "compact", "gradient_memory_mb": 1e-9}
    compact = tiny_run(model_kwargs=one_unit_chunks, **kwargs)
    x, b = dense[4].batches[0]
    t = (dense_a(x, torch.from_numpy(spec_gates(m, d, 0))).T @ b).abs()  # |t| ∝ |A^T b| at update 0
    kept = dense[4].weights[0].view(-1).nonzero().squeeze(1)
    tied = (t == t[kept].min()).nonzero().squeeze(1)
    assert len(set((tied // d).tolist())) > 1 and not set(tied.tolist()) <= set(kept.tolist())
    assert_same_iterates(dense[4], compact[4])


@pytest.mark.parametrize("importance", ["exact", "sketch"])
@pytest.mark.parametrize("convex", [False, True])
@pytest.mark.parametrize("batch_size", [0, 16])
def test_compact_vector_outputs_equal_dense(importance, convex, batch_size):
    from tests.vector_helpers import tiny_vector_run

    epochs = 4 if batch_size == 0 else 2
    kwargs = dict(
        m=9, s=12, d=5, k=3, epochs=epochs, batch_size=batch_size, convex=convex, importance=importance
    )
    dense = tiny_vector_run(model_kwargs={"storage": "dense"}, **kwargs)
    compact = tiny_vector_run(model_kwargs={"storage": "compact", "gradient_memory_mb": 1e-3}, **kwargs)
    assert compact[1].storage == "compact"
    for (d1, d2), (c1, c2) in zip(dense[4].weights, compact[4].weights, strict=True):
        assert torch.equal(d1 != 0, c1 != 0) and torch.equal(d2 != 0, c2 != 0)
        assert_equal_to_rounding(c1, d1)
        assert_equal_to_rounding(c2, d2)
    assert not torch.equal(dense[4].weights[0][0], dense[4].weights[-1][0])
