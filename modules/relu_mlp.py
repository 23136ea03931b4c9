"""The standard ReLU MLP that IMP prunes (docs/algorithms.md: IMP), initialised exactly as the paper's code
does."""

import itertools

import torch
from torch import Tensor, nn

from modules.network import Network


class ReluMLP(Network):
    """Linear(d→m), (L−1) × Linear(m→m), Linear(m→k), ReLU between them, no bias terms.

    The layers are built in that order right after seeding torch's CPU generator with ``seed``
    (PyTorch's default initialisation, the numbers ``torch.manual_seed(seed)`` would give),
    inside a forked generator so the global one is left untouched. The generator's state right
    after the layers, ``initial_rng_state``, is where the paper's data loaders start drawing
    (docs/algorithms.md: IMP): IMP replays that stream privately (``callbacks/imp/order.py``).

    Args: the sizes and the seed (``modules/network.py``).
    """

    name = "relu"

    def __init__(
        self, width: int = 10, input_dim: int = 100, output_dim: int = 1, num_layers: int = 1, seed: int = 0
    ) -> None:
        super().__init__(width, input_dim, output_dim, num_layers, seed)
        sizes = [input_dim] + [width] * num_layers + [output_dim]
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            self.layers = nn.ModuleList(
                nn.Linear(fan_in, fan_out, bias=False) for fan_in, fan_out in itertools.pairwise(sizes)
            )
            self.initial_rng_state = torch.default_generator.get_state()

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)

    def predict(self, x: Tensor) -> Tensor:
        """The output, a scalar output's last dimension squeezed."""
        out = self(x)
        return out.squeeze(-1) if self.output_dim == 1 else out

    def prunable(self) -> list[tuple[nn.Module, str]]:
        """Every weight matrix, output layer included: what global magnitude pruning ranks."""
        return [(layer, "weight") for layer in self.layers]

    def num_weights(self) -> int:
        return sum(layer.weight.numel() for layer in self.layers)

    def weights(self) -> list[Tensor]:
        """The weight matrices as the network uses them (masked where pruned), always current."""
        return [effective_weight(layer) for layer in self.layers]

    def nnz(self) -> int:
        return sum(int((w != 0).sum()) for w in self.weights())


def effective_weight(layer: nn.Module) -> Tensor:
    """``weight_orig · weight_mask`` once ``torch.nn.utils.prune`` has reparametrised the layer."""
    if hasattr(layer, "weight_mask"):
        return layer.weight_orig * layer.weight_mask
    return layer.weight
