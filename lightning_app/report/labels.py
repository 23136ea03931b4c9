"""The words on the figures: metrics with their units, task and method names, depths, and the
settings a panel was trained with, short enough for a paper's figure."""

from lightning_app.report.tables import PanelKey

METRIC_LABELS = {"psnr": "PSNR (dB)", "accuracy": "test accuracy", "rel_error": "relative error"}
TASK_LABELS = {
    "mlp_planted": "Planted MLP",
    "inr_mnist": "INR MNIST",
    "inr_cifar10": "INR CIFAR-10",
    "mnist": "MNIST",
    "binary_cifar10": "Binary CIFAR-10",
    "binary_mnist": "Binary MNIST",
    "gaussian_sparse": "Gaussian sensing",
    "own_data": "own data",
}
METHOD_LABELS = {"aiht": "AIHT", "imp": "IMP"}
M_AXIS = "hidden units m"
S_AXIS = "nonzero weights s"


def metric_label(metric_name: str) -> str:
    """``psnr`` → ``PSNR (dB)``; a metric without a known unit keeps its name."""
    return METRIC_LABELS.get(metric_name, metric_name)


def task_label(task: str) -> str:
    return TASK_LABELS.get(task.lower(), task)


def method_label(panel: PanelKey) -> str:
    """``AIHT``, ``AIHT, convex``, ``IMP``."""
    return METHOD_LABELS.get(panel.method, panel.method) + (", convex" if panel.convex else "")


def depth_label(num_layers: int) -> str:
    return f"{num_layers} hidden layer{'s' if num_layers != 1 else ''}"


def training_label(panel: PanelKey) -> str:
    """``full batch, 15 epochs`` (``, bias`` where the network has biases)."""
    batch = "full batch" if panel.batch_size == 0 else f"batch {panel.batch_size}"
    return f"{batch}, {panel.epochs} epochs" + (", bias" if panel.bias else "")


def seeds_label(seeds: int) -> str:
    return f"mean of {seeds} seed{'s' if seeds != 1 else ''}"


def panel_label(panel: PanelKey) -> str:
    """One panel in a line: ``Planted MLP · AIHT · 1 hidden layer · full batch, 15 epochs``."""
    return " · ".join(
        (task_label(panel.task), method_label(panel), depth_label(panel.num_layers), training_label(panel))
    )
