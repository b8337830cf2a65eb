"""The benchmark's own arithmetic: what it compares computes the same thing, and the table reads right.

No timing is asserted here (timings belong to a machine): only that the
contestants the benchmark puts side by side are doing the same work.
"""

from __future__ import annotations

import numpy as np

import mlp
from benchmarks.inference import bare_numpy, per_call_seconds
from benchmarks.report import Figure, Report
from benchmarks.training import with_in_place_backward


def test_bare_numpy_computes_predict_proba():
    for model in (mlp.MLP([784, 32, 16, 10], seed=1), mlp.MLP([784, 32, 16, 10], dropout=0.3, seed=2)):
        x = np.random.default_rng(0).random(784, dtype=np.float32)
        np.testing.assert_allclose(bare_numpy(model)(x), model.predict_proba(x), rtol=1e-6, atol=1e-8)


def test_the_in_place_backward_gives_the_same_gradients_bit_for_bit():
    model = mlp.MLP([20, 16, 12, 5], seed=3)
    twin = with_in_place_backward(model)
    x = np.random.default_rng(0).random((8, 20), dtype=np.float32)
    y = np.arange(8) % 5
    for network in (model, twin):
        loss = mlp.SoftmaxCrossEntropy()
        loss.forward(network.forward(x), y)
        network.backward(loss.backward(), input_grad=False)
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, q.grad)


def test_per_call_seconds_times_each_function_in_every_run():
    calls = []
    seconds = per_call_seconds({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 10, 3)
    assert {name: len(runs) for name, runs in seconds.items()} == {"a": 3, "b": 3}
    assert calls[-4:] == ["a", "b", "a", "b"]  # taking turns, call by call


def test_the_table_shows_median_range_target_and_load(capsys):
    report = Report({})
    report.section("Section")
    report.add("fast", Figure("a fast thing", "s", [0.5, 0.4, 0.6], target=0.6, other_load=0.25))
    report.add("slow", Figure("a slow thing", "×", [2.0], target=1.5, digits=2))
    table = report.table().splitlines()
    assert table[2] == "Section"
    assert table[3].split() == [
        "a",
        "fast",
        "thing",
        "0.500",
        "s",
        "[0.400–0.600]",
        "≤",
        "0.6",
        "s",
        "✓",
        "0.2",
    ]
    assert table[4].split()[-4:] == ["≤", "1.5", "×", "✗"]
