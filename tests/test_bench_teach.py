"""``python -m benchmarks teach`` runs and prints each figure of issue 11 (timings printed, not asserted)."""

from __future__ import annotations

import pytest

from benchmarks import teach

pytestmark = pytest.mark.slow


def test_the_benchmark_prints_each_figure(capsys):
    assert teach.main(["--runs", "1"]) == 0
    out = capsys.readouterr().out
    for words in (
        "replay set:",
        "learn time, 20 examples",
        "measured:",
        "slashed zeros read as 0",
        "MNIST test accuracy",
        "without replay",
        "deterministic",
    ):
        assert words in out
    (determinism,) = [line for line in out.splitlines() if line.startswith("deterministic")]
    assert determinism.endswith("✓"), determinism
