"""Plain re-implementations of IMP (docs/algorithms.md) for the tests, sharing no code with the project.

``spec_imp``: full batch, MSE, a hand-written loop with its own masks (no torch.nn.utils.prune).
``paper_imp``: IMP as the paper's code runs it, minibatches, cross-entropy and deeper networks
included: torch DataLoaders drawing on the global generator, a plain training loop,
``torch.nn.utils.prune.global_unstructured``.
"""

import math

import numpy as np
import torch
from torch.nn.utils import prune
from torch.utils.data import DataLoader, Dataset


def spec_imp(
    x,
    y,
    m: int,
    seed: int,
    epochs: int,
    targets: list[int],
    fraction: float = 0.1,
    retrain: bool = False,
    ranking: str = "paper",
) -> dict:
    """Returns the nonzero count after every round and the metric (PSNR) recorded for each target
    (with ``retrain``, for one target: measured after one more round with the final mask).

    What is ranked: the trained weights in round 1; from round 2 on the weights of the round's
    last forward pass, before its last Adam step (what torch's pruning ranks in the paper's code
    once its layers carry masks, docs/algorithms.md: IMP). ``ranking`` "trained" or "last_forward" ranks those
    weights in every round instead (two ways to get it wrong, for tests to tell apart)."""
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
            last_forward = [(w * mk).detach().clone() for w, mk in zip(weights, masks, strict=True)]
            adam.zero_grad()
            pred = torch.relu(x @ (weights[0] * masks[0]).T) @ (weights[1] * masks[1]).T
            torch.nn.functional.mse_loss(pred.squeeze(-1), y).backward()
            adam.step()
        return [(w * mk).detach() for w, mk in zip(weights, masks, strict=True)], last_forward

    def psnr(weights, masks):
        with torch.no_grad():
            pred = (torch.relu(x @ (weights[0] * masks[0]).T) @ (weights[1] * masks[1]).T).squeeze(-1)
            mse = float((pred.double() - y.double()).square().mean())
        return 20 * math.log10(max_label) - 10 * math.log10(mse)

    counts, results = [], {}
    remaining = total
    while not counts or remaining > min(targets):
        trained, last_forward = train_round(masks)
        use_last = {"paper": bool(counts), "trained": False, "last_forward": True}[ranking]
        ranked = last_forward if use_last else trained
        alive = torch.cat([mk.flatten() for mk in masks]).bool()
        magnitudes = torch.cat([w.abs().flatten() for w in ranked])
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
        results = {s: psnr(train_round(masks)[0], masks) for s in results}
    return {"counts": counts, "results": results, "masks": masks}


class Examples(Dataset):
    """(x[i], y[i]) one by one, as the paper's datasets give them; a batch of indices is gathered
    at once (the same numbers a stack of the rows gives, without 50000 Python calls a pass)."""

    def __init__(self, x, y) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]

    def __getitems__(self, indices):
        return self.x[indices], self.y[indices]


def paper_loader(x, y, batch_size: int, shuffle: bool) -> DataLoader:
    return DataLoader(Examples(x, y), batch_size=batch_size, shuffle=shuffle, collate_fn=lambda batch: batch)


class PaperMLP(torch.nn.Module):
    """The paper's baseline network: torch's generator seeded, then Linear(d→m), (L−1) ×
    Linear(m→m), Linear(m→k), no bias, ReLU between them."""

    def __init__(self, d: int, m: int, k: int, num_layers: int, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.input_fc = torch.nn.Linear(d, m, bias=False)
        self.hidden_layers = torch.nn.ModuleList(
            torch.nn.Linear(m, m, bias=False) for _ in range(num_layers - 1)
        )
        self.output_fc = torch.nn.Linear(m, k, bias=False)
        self.num_params = d * m + m * m * (num_layers - 1) + m * k

    def forward(self, x):
        h = torch.relu(self.input_fc(x))
        for layer in self.hidden_layers:
            h = torch.relu(layer(h))
        return self.output_fc(h)

    def to_prune(self):
        return [(fc, "weight") for fc in [self.input_fc, *self.hidden_layers, self.output_fc]]

    def nonzeros(self) -> int:
        return sum(int((getattr(fc, name) != 0).sum()) for fc, name in self.to_prune())

    def prune_to(self, keep: float) -> None:
        amount = min(max(1 - keep / self.num_params, 0), 1)
        prune.global_unstructured(self.to_prune(), pruning_method=prune.L1Unstructured, amount=amount)


def paper_psnr(model, loader, max_label: float) -> float:
    """Mean over batches of each batch's MSE (float32), as the paper's evaluation has it; the
    20·log10(max_label) term is a float32 scalar there, added to the Python float in float64."""
    total, count = 0, 0
    for x, y in loader:
        total = total + torch.mean(torch.square(model(x).squeeze() - y))
        count += 1
    return float(20 * np.log10(np.float32(max_label))) + (-10 * torch.log10(total / count)).item()


def paper_accuracy(model, loader) -> float:
    correct, total = 0, 0
    for x, y in loader:
        out = model(x).squeeze()
        if len(out.shape) == 1:
            out[out >= 0.5] = 1
            out[out < 0.5] = 0
            correct = correct + torch.sum(out == y)
        else:
            correct = correct + torch.sum(torch.argmax(out, axis=1) == torch.argmax(y, axis=1))
        total = total + len(y)
    return (correct / total).item()


def paper_imp(
    x,
    y,
    m: int,
    seed: int,
    epochs: int,
    targets: list[int],
    num_layers: int = 1,
    batch_size: int = 0,
    shuffle_full_batch: bool = False,
    eval_data=None,
    max_label: float | None = None,
    crossentropy: bool = False,
    prune_iters: float = 0.1,
    record: list | None = None,
) -> dict:
    """IMP the way the paper's code runs it: torch DataLoaders on the global generator (the
    network, built after them, reseeds it), a plain training loop, ``global_unstructured``.

    ``eval_data`` None measures on the training loader itself (the planted task, PSNR with
    ``max_label``); else (x, y) of an unshuffled evaluation loader, measured by accuracy, or by
    PSNR when ``max_label`` is given. The global generator is left as it was. Returns the
    nonzero count after each round (idle rounds included), the metric of each target and the
    masks; ``record``, if given, receives each round's list of training batches (x, y).
    """
    with torch.random.fork_rng(devices=[]):
        n = len(x)
        size = batch_size or n
        shuffle = bool(batch_size) or shuffle_full_batch
        train_loader = paper_loader(x, y, size, shuffle)
        if eval_data is None:
            test_loader = train_loader
        else:
            test_loader = paper_loader(*eval_data, size, shuffle=False)
        if eval_data is not None and max_label is None:
            evaluate = paper_accuracy
        else:
            evaluate = lambda model, loader: paper_psnr(model, loader, max_label)  # noqa: E731
        loss_fn = torch.nn.CrossEntropyLoss() if crossentropy else torch.nn.MSELoss()

        def initialize():
            model = PaperMLP(x.shape[1], m, 1 if y.dim() == 1 else y.shape[1], num_layers, seed)
            return model, torch.optim.Adam(model.parameters(), lr=0.001)

        def train_and_prune(model, optimizer, keep):
            loader = train_loader
            if len(train_loader) <= 100:
                batches = iter(train_loader)
                loader = [next(batches) for _ in range(len(train_loader))]
            if record is not None:
                record.append([])
            for _ in range(epochs):
                for xb, yb in loader:
                    if record is not None:
                        record[-1].append((xb, yb))
                    optimizer.zero_grad()
                    out = model(xb).squeeze()
                    loss_fn(out, yb.to(out.dtype)).backward()
                    optimizer.step()
            model.prune_to(keep)

        targets = sorted(targets)
        if prune_iters == 0:  # train once per target, from a fresh network (reseeded), pruned to it
            counts, results = [], {}
            for s in reversed(targets):
                model, optimizer = initialize()
                train_and_prune(model, optimizer, s)
                results[s] = evaluate(model, test_loader)
                counts.append(model.nonzeros())
            masks = [fc.weight_mask for fc, _ in model.to_prune()]
            return {"counts": counts, "results": results, "masks": masks}
        model, optimizer = initialize()
        if prune_iters < 1:
            fraction = prune_iters
        else:
            fraction = 1 - (targets[-1] / model.num_params) ** (1 / (prune_iters - 1))
        keep = (1 - fraction) * model.num_params
        start = {name: w.clone() for name, w in model.state_dict().items()}
        nonzeros, counts, results = model.nonzeros(), [], {}
        while not counts or nonzeros > targets[0]:
            if counts:
                state = model.state_dict()
                for name, w in start.items():
                    state[name + "_orig"] = w
                model.load_state_dict(state)
                optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
            train_and_prune(model, optimizer, keep)
            metric = evaluate(model, test_loader)
            before, nonzeros = nonzeros, model.nonzeros()
            if nonzeros >= before and nonzeros > targets[0]:
                keep = (1 - 1.0 / nonzeros) * model.num_params
            counts.append(nonzeros)
            for s in targets:
                if s not in results and nonzeros <= s:
                    results[s] = metric
        masks = [fc.weight_mask.clone() for fc, _ in model.to_prune()]
    return {"counts": counts, "results": results, "masks": masks}
