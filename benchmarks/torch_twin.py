"""The benchmark network in PyTorch: the same weights, batches and Adam, to compare epoch times.

PyTorch is a yardstick here, never a dependency: ``pip install torch`` to
get its rows in ``python -m benchmarks speed``. The twin copies mlp's initial
weights, takes mlp's batches in the order ``fit(seed=0)`` takes them, and
does the same per-step bookkeeping (loss and accuracy), so the two epochs
compute the same thing (their mean losses agree to about 0.2 %, as close as
two correct float32 runs get).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mlp.nn.layers import Dense
from mlp.nn.network import MLP


class TorchTwin:
    """The benchmark network in PyTorch, starting from mlp's initial weights, fed mlp's batches."""

    def __init__(
        self, x: np.ndarray, y: np.ndarray, sizes: tuple[int, ...], batch_size: int, lr: float
    ) -> None:
        import torch

        torch.set_num_threads(1)
        self.batch_size, self.lr = batch_size, lr
        self.torch = torch
        self.x = torch.from_numpy(np.array(x))  # a writable copy: torch warns about read-only arrays
        self.y = torch.from_numpy(np.array(y))
        self.reference = MLP(sizes, seed=0)
        # fit(seed=0) shuffles its first epoch with the first permutation of this generator.
        self.order = np.random.default_rng(0).permutation(len(x))

    def network(self):  # -> torch.nn.Sequential
        torch = self.torch
        dense = [layer for layer in self.reference.layers if isinstance(layer, Dense)]
        modules = []
        for i, layer in enumerate(dense):
            linear = torch.nn.Linear(layer.n_in, layer.n_out)
            with torch.no_grad():  # torch keeps W as (n_out, n_in): the transpose of ours
                linear.weight.copy_(torch.from_numpy(layer.weight.value.T))
                linear.bias.copy_(torch.from_numpy(layer.bias.value))
            modules.append(linear)
            if i < len(dense) - 1:
                modules.append(torch.nn.ReLU())
        return torch.nn.Sequential(*modules)

    def epoch(self, **adam_options: Any) -> tuple[float, float]:
        """Seconds and mean training loss of one epoch, with ``fit``'s per-step bookkeeping."""
        torch = self.torch
        net = self.network()
        optimizer = torch.optim.Adam(
            net.parameters(), lr=self.lr, betas=(0.9, 0.999), eps=1e-8, **adam_options
        )
        loss_sum, correct = 0.0, 0
        start = time.perf_counter()
        for first in range(0, len(self.x), self.batch_size):
            idx = torch.from_numpy(self.order[first : first + self.batch_size])
            xb, yb = self.x[idx], self.y[idx]
            logits = net(xb)
            loss = torch.nn.functional.cross_entropy(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(dim=1) == yb).sum())
        return time.perf_counter() - start, loss_sum / len(self.x)


def torch_version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__
