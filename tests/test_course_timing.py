"""mlp.course.timing times what it says, and its table and chart show every part of the step."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np

import mlp
from mlp.course.timing import (
    PARTS,
    best_seconds,
    breakdown_table,
    gather_seconds,
    plot_breakdown,
    step_breakdown,
)


def test_best_seconds_calls_each_function_rounds_times_number():
    calls = {"a": 0, "b": 0}

    def count(name):
        calls[name] += 1

    seconds = best_seconds({"a": lambda: count("a"), "b": lambda: count("b")}, rounds=3, number=5)
    assert calls == {"a": 15, "b": 15}
    assert set(seconds) == {"a", "b"} and all(0 <= s < 1 for s in seconds.values())


def test_the_step_breakdown_has_every_part_and_adds_up():
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 12)).astype(np.float32), rng.integers(0, 3, 16)
    t = step_breakdown([12, 8, 3], x, y, mlp.Adam(), rounds=2, number=3)
    assert set(t) == {"step", *PARTS}
    assert all(t[part] >= 0 for part in PARTS)
    assert t["everything else"] <= t["step"]
    # "everything else" is the step minus the timed parts, unless those took longer (noise): then 0.
    assert t["everything else"] == max(t["step"] - t["matrix products"] - t["optimizer"], 0.0)


def test_gather_seconds_is_per_batch():
    x = np.zeros((1000, 784), np.float32)
    assert 0 < gather_seconds(x, batch_size=100) < 0.1


def test_the_table_and_the_chart_show_each_variant():
    timings = {
        "float32, Adam": {"step": 1e-3, "matrix products": 6e-4, "optimizer": 3e-4, "everything else": 1e-4},
        "float64, Adam": {
            "step": 2e-3,
            "matrix products": 1.2e-3,
            "optimizer": 6e-4,
            "everything else": 2e-4,
        },
    }
    table = breakdown_table(timings, flop_per_step=6e7).splitlines()
    assert len(table) == 3 and len({len(line) for line in table}) == 1, "the columns line up"
    assert table[1].startswith("float32, Adam") and " 1000 µs" in table[1] and "   600 µs ( 60%)" in table[1]
    assert table[1].endswith("100 GFLOP/s") and table[2].endswith("50 GFLOP/s")
    fig = plot_breakdown(timings)
    (ax,) = fig.axes
    assert len(ax.patches) == len(PARTS) * len(timings)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(timings)
    matplotlib.pyplot.close(fig)
