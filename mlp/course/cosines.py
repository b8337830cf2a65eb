"""Notebook 05's box plots: how well batch gradients agree with the full gradient, by batch size.

``plot_cosines({label: {batch_size: [cosines]}})`` draws one box per batch size
for each label, side by side, so that the same measurement taken at two
moments of training can be compared at a glance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

Cosines = Mapping[int, Sequence[float]]  # batch size -> the cosine of each sampled batch


def plot_cosines(runs: Mapping[str, Cosines], title: str, ylim: tuple[float, float] = (0.0, 1.02)):
    """One box per batch size and run (a colour per run); returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    batch_sizes = sorted(next(iter(runs.values())))
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for k, (label, cosines) in enumerate(runs.items()):
        ax.boxplot(
            [cosines[b] for b in batch_sizes],
            positions=np.arange(len(batch_sizes)) + (k - (len(runs) - 1) / 2) * width,
            widths=0.8 * width,
            patch_artist=True,
            boxprops={"facecolor": f"C{k}", "alpha": 0.6},
            medianprops={"color": "black"},
            label=label,
        )
    ax.set(
        xticks=range(len(batch_sizes)),
        xticklabels=[str(b) for b in batch_sizes],
        xlabel="batch size B",
        ylabel="cosine(batch, full gradient)",
        ylim=ylim,
        title=title,
    )
    if len(runs) > 1:
        ax.legend(loc="lower right")
    return fig
