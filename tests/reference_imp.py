"""A plain re-implementation of SPEC §5 (IMP, full batch, MSE) for the tests: a hand-written
loop with its own masks, no torch.nn.utils.prune, no Lightning, no shared code with the project."""

import math

import torch


def spec_imp(
    x, y, m: int, seed: int, epochs: int, targets: list[int], fraction: float = 0.1, retrain: bool = False
) -> dict:
    """Returns the nonzero count after every round and the metric (PSNR) recorded for each target
    (with ``retrain``, for one target: measured after one more round with the final mask)."""
    d = x.shape[1]
    torch.manual_seed(seed)
    first = torch.nn.Linear(d, m, bias=False)
    second = torch.nn.Linear(m, 1, bias=False)
    init = [first.weight.detach().clone(), second.weight.detach().clone()]
    masks = [torch.ones_like(w) for w in init]
    total = sum(w.numel() for w in init)
    amount = 1 - (1 - fraction) * total / total  # the float the paper's code hands to torch
    max_label = float(y.abs().max())

    def train_round(masks):
        weights = [w.clone().requires_grad_(True) for w in init]
        adam = torch.optim.Adam(weights, lr=1e-3)
        for _ in range(epochs):
            adam.zero_grad()
            pred = torch.relu(x @ (weights[0] * masks[0]).T) @ (weights[1] * masks[1]).T
            torch.nn.functional.mse_loss(pred.squeeze(-1), y).backward()
            adam.step()
        return [(w * mk).detach() for w, mk in zip(weights, masks, strict=True)]

    def psnr(weights, masks):
        with torch.no_grad():
            pred = (torch.relu(x @ (weights[0] * masks[0]).T) @ (weights[1] * masks[1]).T).squeeze(-1)
            mse = float((pred.double() - y.double()).square().mean())
        return 20 * math.log10(max_label) - 10 * math.log10(mse)

    counts, results = [], {}
    remaining = total
    while not counts or remaining > min(targets):
        trained = train_round(masks)
        alive = torch.cat([mk.flatten() for mk in masks]).bool()
        magnitudes = torch.cat([w.abs().flatten() for w in trained])
        pruned = round(amount * remaining)
        if pruned == 0 and remaining > min(targets):
            pruned = 1
        alive_idx = alive.nonzero().squeeze(1)
        drop = alive_idx[torch.topk(magnitudes[alive_idx], pruned, largest=False).indices]
        flat = torch.cat([mk.flatten() for mk in masks])
        flat[drop] = 0
        masks = [flat[: masks[0].numel()].view_as(masks[0]), flat[masks[0].numel() :].view_as(masks[1])]
        remaining = int(flat.sum())
        counts.append(remaining)
        metric = psnr(trained, masks)
        for s in targets:
            if s not in results and remaining <= s:
                results[s] = metric
    if retrain:
        results = {s: psnr(train_round(masks), masks) for s in results}
    return {"counts": counts, "results": results, "masks": masks}
