"""Inference speed: ``predict_proba`` on one image and on the test set, against bare NumPy.

For the benchmark network (which the targets are for) and the shipped model
(what the dashboard runs): ``predict_proba`` on one 784-vector, and the same
three matrix products, ReLU and softmax written inline in NumPy with no check
of the input, the two taking turns call by call (so that the machine's load
hits them alike); their ratio is what the validation and the layer structure
cost. Then the 10,000 test images at 1 thread and at the default thread
count, and ``preprocess_digit`` + ``predict_proba`` on a 280×280 drawing (an
upscaled test digit), the dashboard's work for each stroke.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.machine import mean_or_none, other_load
from benchmarks.report import Figure, Report
from benchmarks.training import SIZES
from mlp.nn.layers import Dense, Dropout, ReLU
from mlp.nn.network import MLP, Sequential
from mlp.pad.preprocess import preprocess_digit
from mlp.training.model_io import ModelFileError, load_model

TARGET_ONE_MICROSECONDS = 25
TARGET_OVER_BARE = 1.5
TARGET_BATCH_MILLISECONDS = 30  # the 10,000 test images at 1 thread


def bare_numpy(model: Sequential) -> Callable[[np.ndarray], np.ndarray]:
    """``model``'s probabilities for one vector as one would write them inline: no checks, no layers.

    For a network of three Dense layers with ReLU between them (dropout is the
    identity at inference, so it is skipped).
    """
    kinds = [type(layer) for layer in model.layers if not isinstance(layer, Dropout)]
    if kinds != [Dense, ReLU, Dense, ReLU, Dense]:
        raise ValueError(f"bare_numpy writes out Dense-ReLU-Dense-ReLU-Dense, not {kinds}")
    dense: list[Any] = [layer for layer in model.layers if isinstance(layer, Dense)]
    (w1, b1), (w2, b2), (w3, b3) = ((layer.weight.value, layer.bias.value) for layer in dense)

    def proba(x: np.ndarray) -> np.ndarray:
        h = np.maximum(x @ w1 + b1, 0)  # (784,) @ (784, n1) -> (n1,)
        h = np.maximum(h @ w2 + b2, 0)  # (n1,) @ (n1, n2) -> (n2,)
        z = h @ w3 + b3  # (n2,) @ (n2, 10) -> (10,)
        e = np.exp(z - z.max())
        return e / e.sum()

    return proba


def per_call_seconds(calls: dict[str, Callable[[], Any]], n: int, runs: int) -> dict[str, list[float]]:
    """For each of ``runs`` runs, the median seconds of ``n`` calls of each function.

    The functions take turns call by call, after a warm-up, so that a burst
    of load from another program hits them alike.
    """
    for _ in range(min(n, 100)):
        for call in calls.values():
            call()
    medians: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):
        times = {name: np.empty(n) for name in calls}
        for i in range(n):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                times[name][i] = time.perf_counter() - start
        for name in calls:
            medians[name].append(float(np.median(times[name])))
    return medians


def layer_sizes(model: Sequential) -> str:
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    return "-".join(str(n) for n in [dense[0].n_in] + [layer.n_out for layer in dense])


def drawing_280(image_28: np.ndarray) -> np.ndarray:
    """A 280×280 uint8 "drawing": an MNIST digit blown up 10 times, as a canvas would give it."""
    return (np.kron(image_28.reshape(28, 28), np.ones((10, 10))) * 255).astype(np.uint8)


def measure_one(report: Report, key: str, model: Sequential, one: np.ndarray, repeats: int) -> None:
    """``predict_proba`` on one vector against bare NumPy, the two taking turns."""
    bare = bare_numpy(model)
    np.testing.assert_allclose(bare(one), model.predict_proba(one), rtol=1e-5, atol=1e-7)  # the same sums
    loads: list[float] = []
    with threadpool_limits(limits=1, user_api="blas"), other_load(loads):
        seconds = per_call_seconds(
            {"mlp": partial(model.predict_proba, one), "bare": partial(bare, one)}, 1000, repeats
        )
    load = mean_or_none(loads)
    target = TARGET_ONE_MICROSECONDS if key == "bench" else None
    micros = {name: [1e6 * t for t in runs] for name, runs in seconds.items()}
    report.add(
        f"predict_one_{key}",
        Figure("one 784-vector, predict_proba", "µs", micros["mlp"], target, digits=1, other_load=load),
    )
    report.add(
        f"bare_one_{key}",
        Figure(
            "one 784-vector, bare NumPy (3 products, ReLU, softmax inline)",
            "µs",
            micros["bare"],
            digits=1,
            other_load=load,
        ),
    )
    ratios = [a / b for a, b in zip(seconds["mlp"], seconds["bare"])]
    target = TARGET_OVER_BARE if key == "bench" else None
    report.add(
        f"predict_over_bare_{key}",
        Figure("predict_proba / bare NumPy, paired runs", "×", ratios, target, digits=2),
    )


def measure_inference(report: Report, x_test: np.ndarray, repeats: int) -> None:
    default_threads = report.machine["blas_default_threads"] or 1
    models: dict[str, Sequential] = {"bench": MLP(SIZES, seed=0)}
    try:
        models["shipped"] = load_model()
    except (FileNotFoundError, ModelFileError) as error:
        report.notes.append(f"no shipped model to time: {error}")
    for key, model in models.items():
        name = layer_sizes(model) + (", the shipped model" if key == "shipped" else "")
        report.section(f"Inference: predict_proba, {name}, 1 thread unless said")
        measure_one(report, key, model, x_test[0], repeats)
        # The batch's target is at 1 thread: met there, it is met whatever the machine's load;
        # the default thread count is faster only on idle cores.
        for threads in sorted({1, default_threads}):
            loads: list[float] = []
            with threadpool_limits(limits=threads, user_api="blas"), other_load(loads):
                seconds = per_call_seconds({"batch": partial(model.predict_proba, x_test)}, 5, repeats)[
                    "batch"
                ]
            label = f"10,000 × 784, {threads} thread{'s' if threads > 1 else ''}"
            label += " (the default)" if threads == default_threads else ""
            target = TARGET_BATCH_MILLISECONDS if key == "bench" and threads == 1 else None
            millis = [1e3 * t for t in seconds]
            report.add(
                f"predict_10k_{threads}_threads_{key}",
                Figure(label, "ms", millis, target, digits=1, other_load=mean_or_none(loads)),
            )
    if "shipped" in models:
        measure_drawing(report, models["shipped"], x_test[0], repeats)


def measure_drawing(report: Report, model: Sequential, image: np.ndarray, repeats: int) -> None:
    drawing = drawing_280(image)
    seconds = per_call_seconds({"draw": lambda: model.predict_proba(preprocess_digit(drawing))}, 300, repeats)
    report.add(
        "preprocess_predict",
        Figure(
            "preprocess_digit + predict_proba, 280×280 drawing",
            "ms",
            [1e3 * t for t in seconds["draw"]],
            1,
            digits=3,
        ),
    )


def measure_shipped_accuracy(report: Report, x_test: np.ndarray, y_test: np.ndarray) -> None:
    try:
        model = load_model()
    except (FileNotFoundError, ModelFileError):
        return
    report.section("The default recipe: python -m mlp train")
    accuracy = 100 * model.accuracy(x_test, y_test)
    report.add(
        "shipped_test_accuracy", Figure("shipped model, test accuracy", "%", [accuracy], 98.0, True, digits=2)
    )
