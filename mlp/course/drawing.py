"""Figures of notebook 08: the four steps from a drawing to the network's input, and rows of digits.

``preprocessing_stages`` runs ``mlp.pad.preprocess.preprocess_digit`` one
step at a time and keeps every intermediate result, so that the figure
shows the pad's own computation (its last stage *is* ``preprocess_digit``'s
output, which ``tests/test_course_drawing.py`` checks bit for bit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlp.pad.preprocess import CENTRE, NOISE_FLOOR, _as_ink, centre_by_mass, scale_to_box


@dataclass(frozen=True)
class Stages:
    """What each step of the preprocessing makes of one drawing."""

    ink: np.ndarray  # the drawing as ink: 0 background, 1 the strongest stroke
    box: tuple[int, int, int, int]  # its bounding box: top, bottom, left, right (inclusive)
    scaled: np.ndarray  # the box scaled so that its longer side is 20 pixels, strongest ink 1
    centred: np.ndarray  # (28, 28): scaled, pasted with its centre of mass at MNIST's centre

    @property
    def centre_of_mass(self) -> tuple[float, float]:
        """Row and column of the centre of mass of ``centred``."""
        mass = self.centred.sum()
        rows = self.centred.sum(axis=1) @ np.arange(self.centred.shape[0]) / mass
        cols = self.centred.sum(axis=0) @ np.arange(self.centred.shape[1]) / mass
        return float(rows), float(cols)


def preprocessing_stages(image: np.ndarray) -> Stages:
    """The steps of ``preprocess_digit(image)``, one by one."""
    ink = _as_ink(image)
    rows = np.nonzero(ink.max(axis=1) > NOISE_FLOOR)[0]
    cols = np.nonzero(ink.max(axis=0) > NOISE_FLOOR)[0]
    box = (int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1]))
    scaled = scale_to_box(ink[box[0] : box[1] + 1, box[2] : box[3] + 1])
    scaled *= 1 / scaled.max()
    return Stages(ink, box, scaled, centre_by_mass(scaled))


def plot_preprocessing(stages: Stages, title: str = ""):  # -> matplotlib Figure
    """Four panels: the ink with its bounding box, the 20-pixel box, and the 28 × 28 input with its centre."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
    top, bottom, left, right = stages.box
    axes[0].imshow(stages.ink, cmap="gray")
    axes[0].set_title(f"1. ink, {stages.ink.shape[0]} × {stages.ink.shape[1]}")
    axes[1].imshow(stages.ink, cmap="gray")
    axes[1].add_patch(
        Rectangle(
            (left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False, color="tab:orange", lw=2
        )
    )
    axes[1].set_title(f"2. bounding box, {bottom - top + 1} × {right - left + 1}")
    axes[2].imshow(stages.scaled, cmap="gray", vmin=0, vmax=1)
    axes[2].set_title(f"3. scaled to {stages.scaled.shape[0]} × {stages.scaled.shape[1]}")
    axes[3].imshow(stages.centred, cmap="gray", vmin=0, vmax=1)
    row, col = stages.centre_of_mass
    axes[3].plot(col, row, "o", color="tab:orange", ms=7, label=f"centre of mass ({row:.1f}, {col:.1f})")
    axes[3].plot(CENTRE[1], CENTRE[0], "+", color="tab:cyan", ms=14, mew=2, label="MNIST's centre (14, 14)")
    axes[3].legend(loc="lower center", bbox_to_anchor=(0.5, -0.32), fontsize=8, frameon=False)
    axes[3].set_title("4. centred by mass, 28 × 28")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_digits(images: np.ndarray, titles: list[str], *, columns: int | None = None, size: float = 1.5):
    """A grid of 28 × 28 images, white ink on black as the network sees them, each with its title."""
    import matplotlib.pyplot as plt

    images = np.asarray(images).reshape(-1, 28, 28)
    if len(titles) != len(images):
        raise ValueError(f"{len(images)} images but {len(titles)} titles")
    columns = columns or len(images)
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, 1.25 * size * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_photo_steps(photo: np.ndarray, steps, answer: str = ""):  # -> matplotlib Figure
    """Eight panels: a photo and what each photo step (``mlp.pad.preprocess.ink_steps``) makes of it.

    ``photo`` is the picture as taken (RGB or grey, any size), ``steps`` the
    ``InkSteps`` of its grey levels, ``answer`` the network's, for the last panel's title.
    """
    import matplotlib.pyplot as plt

    from mlp.pad.preprocess import preprocess_digit

    fig, axes = plt.subplots(2, 4, figsize=(13, 6.4))
    axes = axes.ravel()
    axes[0].imshow(photo, cmap="gray" if np.ndim(photo) == 2 else None)
    axes[0].set_title("the photo")
    axes[1].imshow(steps.gray, cmap="gray", vmin=0, vmax=1)
    axes[1].set_title(f"1. grey levels, {steps.gray.shape[0]} × {steps.gray.shape[1]}")
    axes[2].imshow(steps.background, cmap="gray", vmin=0, vmax=1)
    axes[2].set_title("2. the paper's shade (background)")
    axes[3].imshow(np.clip(steps.flat, 0, 1), cmap="gray", vmin=0, vmax=1)
    axes[3].set_title("3. ink against its paper (flat-field)")
    values = np.clip(steps.flat, 0, 1).ravel()
    axes[4].hist(values, bins=64, range=(0, 1), color="tab:gray", log=True)
    axes[4].axvline(
        steps.threshold, color="tab:orange", lw=2, label=f"Otsu's threshold {steps.threshold:.2f}"
    )
    axes[4].axvline(steps.noise, color="tab:cyan", lw=2, ls="--", label=f"paper's noise {steps.noise:.2f}")
    axes[4].legend(fontsize=8, frameon=False)
    axes[4].set_title("4. a threshold from this photo")
    axes[4].set_xlabel("contrast against the paper")
    axes[5].imshow(steps.flat > steps.threshold, cmap="gray")
    axes[5].set_title("5. above the threshold")
    axes[6].imshow(steps.ink, cmap="gray", vmin=0, vmax=1)
    axes[6].set_title("6. strokes kept, specks dropped")
    axes[7].imshow(preprocess_digit(steps.gray), cmap="gray", vmin=0, vmax=1)
    axes[7].set_title(f"7. MNIST's steps, 28 × 28{': ' + answer if answer else ''}")
    for ax in axes:
        if ax is not axes[4]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig
