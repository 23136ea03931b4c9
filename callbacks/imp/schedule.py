"""How many weights each IMP round leaves (docs/algorithms.md: IMP), computed with the paper's float
expressions.

``prune_schedule`` gives the rounds this project trains. The paper's loop also has rounds that
prune nothing: when the round's fraction of the remaining count rounds to zero, that round
trains, prunes zero weights and measures, and only then does the loop switch to the fraction
``1/remaining`` (at least one weight). Such an idle round leaves no trace but the draws its
loaders take from torch's global generator, so ``idle_rounds_before`` says where they fall and
the minibatch order (``callbacks/imp/order.py``) skips their draws.
"""


def check_prune_iters(prune_iters: float) -> None:
    if prune_iters < 0 or (prune_iters >= 1 and (prune_iters != int(prune_iters) or prune_iters < 2)):
        raise ValueError(
            "imp.prune_iters must be 0 (train once, prune straight to s), a fraction in (0, 1) "
            f"pruned each round, or a whole number of rounds p >= 2; got {prune_iters}"
        )


def round_fraction(prune_iters: float, total: int, largest_target: int) -> float:
    """The fraction of the remaining weights pruned each round, computed as the paper's code does.

    The paper passes ``1 − s_i/N`` with ``s_i = (1 − a)·N`` to torch, not ``a`` itself, and
    torch rounds ``amount · remaining``; keeping that float expression keeps the counts equal.
    """
    if prune_iters < 1:
        fraction = prune_iters
    else:
        fraction = 1 - (largest_target / total) ** (1 / (prune_iters - 1))
    return _torch_amount((1 - fraction) * total, total)


def _torch_amount(kept: float, total: int) -> float:
    """The amount the paper hands to torch for a round that should keep ``kept`` of ``total``."""
    return min(max(1 - kept / total, 0.0), 1.0)


def prune_schedule(total: int, targets: list[int], prune_iters: float) -> list[list[int]]:
    """For each round, the nonzero counts its prunes leave (one per round, or one per target for 0).

    Rounds go on until the count is at most the smallest target; a round that would prune
    nothing prunes one weight. If the smallest target is at least ``total``, one round still
    prunes by the round fraction, as the paper's code does.
    """
    check_prune_iters(prune_iters)
    if prune_iters == 0:
        return [[min(t, total) for t in sorted(targets, reverse=True)]]
    smallest = min(targets)
    amount = round_fraction(prune_iters, total, max(targets))
    remaining, rounds = total, []
    while True:
        pruned = round(amount * remaining)
        if pruned == 0 and remaining > smallest:
            pruned = 1
        remaining -= pruned
        rounds.append([remaining])
        if remaining <= smallest:
            return rounds


def paper_round_counts(total: int, targets: list[int], prune_iters: float) -> list[int]:
    """The count after each round of the paper's IMP loop, its idle rounds included (IMP only)."""
    check_prune_iters(prune_iters)
    if prune_iters == 0:
        raise ValueError("prune_iters 0 trains once per target: it has no rounds")
    smallest = min(targets)
    if prune_iters < 1:
        fraction = prune_iters
    else:
        fraction = 1 - (max(targets) / total) ** (1 / (prune_iters - 1))
    kept = (1 - fraction) * total
    remaining, counts = total, []
    while True:
        after = remaining - round(_torch_amount(kept, total) * remaining)
        counts.append(after)
        if after <= smallest:
            return counts
        if after >= remaining:
            kept = (1 - 1.0 / after) * total
        remaining = after


def idle_rounds_before(total: int, targets: list[int], prune_iters: float) -> list[int]:
    """For each round of ``prune_schedule``, how many idle paper rounds come right before it."""
    if prune_iters == 0 or total <= min(targets):
        return [0]
    idle, before, remaining = 0, [], total
    for after in paper_round_counts(total, targets, prune_iters):
        if after == remaining:
            idle += 1
            continue
        before.append(idle)
        idle, remaining = 0, after
    return before
