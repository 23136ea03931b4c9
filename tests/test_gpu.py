"""The equality and recovery tests again on CUDA; skipped without a GPU."""

import pytest
import torch

from tests.helpers import tiny_run
from tests.reference import dense_a, spec_gates, spec_update

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("convex", [False, True])
@pytest.mark.parametrize("batch_size", [0, 16])
def test_cuda_iterates_equal_plain_reimplementation(convex, batch_size):
    m, d, s = 5, 6, 7
    epochs = 4 if batch_size == 0 else 2
    per_epoch = 1 if batch_size == 0 else 4
    _, model, _, _, rec = tiny_run(
        m=m, s=s, d=d, epochs=epochs, batch_size=batch_size, convex=convex, accelerator="gpu", devices=1
    )
    assert model.weight.device.type == "cuda"
    gates = torch.from_numpy(spec_gates(m, d, 0))
    w = torch.zeros(m * d, dtype=torch.float64)
    for t, ((x, b), ours) in enumerate(zip(rec.batches, rec.weights, strict=True)):
        w = spec_update(dense_a(x.cpu(), gates), b.cpu(), w, s)
        torch.testing.assert_close(ours.cpu(), w.view(m, d), rtol=1e-5, atol=1e-12)
        if not convex and t // per_epoch >= 1:
            gates = w.view(m, d).clone()


def test_cuda_planted_recovery():
    trainer, model, *_ = tiny_run(m=10, s=20, n=5000, d=100, epochs=15, accelerator="gpu", devices=1)
    assert float(trainer.callback_metrics["val/psnr"]) >= 30.0
    assert model.nnz() <= 20
