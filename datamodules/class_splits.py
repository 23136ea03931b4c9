"""Per-class train/test splits as the paper makes them: for each class in turn, its first examples
(in data order) train and the next ones test; each split lists the classes one after another."""

from collections.abc import Sequence

import numpy as np


def per_class_split(
    labels: np.ndarray,
    classes: Sequence[int],
    train_per_class: int,
    test_per_class: int,
    dataset: str = "the dataset",
) -> tuple[np.ndarray, np.ndarray]:
    """Indices into ``labels`` of the training and the test examples, class-major.

    Raises ValueError, saying how many examples the class has, when a class has fewer than
    ``train_per_class + test_per_class``.
    """
    wanted = train_per_class + test_per_class
    train, test = [], []
    for label in classes:
        members = np.flatnonzero(labels == label)
        if len(members) < wanted:
            raise ValueError(
                f"{dataset} class {label} has {len(members)} examples, fewer than data.train_per_class "
                f"+ data.test_per_class = {train_per_class} + {test_per_class} = {wanted}"
            )
        train.append(members[:train_per_class])
        test.append(members[train_per_class:wanted])
    return np.concatenate(train), np.concatenate(test)
