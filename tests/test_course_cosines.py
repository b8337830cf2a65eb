"""mlp.course.cosines draws one box per batch size and run, where the runs can be told apart."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from mlp.course.cosines import plot_cosines


def test_one_box_per_batch_size_and_run_side_by_side():
    start = {8: [0.2, 0.3, 0.4], 128: [0.7, 0.8, 0.75]}
    end = {8: [0.0, 0.1, -0.1], 128: [0.1, 0.05, 0.0]}
    fig = plot_cosines({"start": start, "end": end}, "title", ylim=(-0.5, 1))
    (ax,) = fig.axes
    assert len(ax.patches) == 4, "a box per batch size and run"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["8", "128"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["start", "end"]
    start_at_8, end_at_8 = (ax.patches[k].get_path().get_extents() for k in (0, 2))  # boxes are run by run
    assert start_at_8.x1 <= end_at_8.x0, "the two runs' boxes for one batch size sit side by side"
    assert ax.get_ylim() == (-0.5, 1)
    plt.close(fig)


def test_a_single_run_needs_no_legend():
    fig = plot_cosines({"at initialisation": {8: [0.3], 32: [0.5]}}, "title")
    assert fig.axes[0].get_legend() is None
    plt.close(fig)
