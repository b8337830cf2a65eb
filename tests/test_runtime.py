"""``mlp.runtime``: the one place that chooses threads or inline, and what a browser's Python lacks.

Natively both paths run here: the browser's is forced with ``monkeypatch``.
"""

from __future__ import annotations

import sysconfig
import threading

import numpy as np
import pytest

from mlp import runtime
from mlp.training import locations, replay
from mlp.training.data import DataFileError


@pytest.mark.parametrize("threads", [True, False])
def test_start_runs_the_work_on_a_thread_or_inline(monkeypatch, threads):
    monkeypatch.setattr(runtime, "CAN_START_THREADS", threads)
    ran_on, release = [], threading.Event()

    def work(value):
        ran_on.append((threading.current_thread().name, value))
        if threads:
            assert release.wait(10)

    done = runtime.start(work, 7, name="mlp-test")
    if threads:
        assert done.is_alive(), "natively the caller goes on while the work runs"
        release.set()
        done.join(10)
        assert ran_on == [("mlp-test", 7)]
    else:
        assert ran_on == [(threading.current_thread().name, 7)], "inline: done when start returns"
    assert not done.is_alive()


def test_blas_threads_does_nothing_where_there_is_no_thread_pool(monkeypatch):
    monkeypatch.setattr(runtime, "CAN_LIMIT_BLAS_THREADS", False)
    monkeypatch.setitem(__import__("sys").modules, "threadpoolctl", None)  # an import would now fail
    with runtime.blas_threads(1):
        assert float(np.ones((3, 3)).sum()) == 9.0


def test_blas_threads_limits_blas_natively():
    from threadpoolctl import threadpool_info

    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    if not blas:
        pytest.skip("this numpy reports no BLAS thread pool")
    with runtime.blas_threads(1):
        assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")


def test_installed_data_is_found_where_python_has_no_user_scheme(monkeypatch, tmp_path):
    """Pyodide: get_preferred_scheme("user") raises ValueError; the environment's own prefix still counts."""

    def no_user_scheme(key):
        raise ValueError("'user' returned 'posix_user', which is not a valid scheme on this platform")

    share = tmp_path / "share" / locations.DISTRIBUTION
    share.mkdir(parents=True)
    (share / locations.MODEL_NAME).write_bytes(b"")
    monkeypatch.setattr(sysconfig, "get_preferred_scheme", no_user_scheme)
    monkeypatch.setattr(sysconfig, "get_path", lambda name, scheme=None: str(tmp_path))
    assert locations.installed_data_dir() == share


def test_a_replay_sample_reads_back_as_the_replay_set(tmp_path):
    saved = replay.write_sample(tmp_path, 100, seed=3)
    assert saved.name == "mnist-replay-100-seed3.npz"
    x, y = replay._read_sample(saved, 100)
    x_native, y_native = replay.mnist_replay(100, seed=3)
    np.testing.assert_array_equal(x, x_native)  # bit for bit: pixels / 255 in float32 both ways
    np.testing.assert_array_equal(y, y_native)
    assert x.dtype == np.float32 and y.dtype == np.int64 and not x.flags.writeable


def test_mnist_replay_reads_the_shipped_sample_when_mnist_is_absent(tmp_path, monkeypatch):
    replay.write_sample(tmp_path, 100, seed=0)
    monkeypatch.setattr(replay, "mnist_dir", lambda data_dir=None: tmp_path / "no-mnist-here")
    monkeypatch.setattr(replay, "shipped_data_dirs", lambda: [tmp_path])
    x, y = replay.mnist_replay(100, seed=0)
    assert x.shape == (100, 784) and np.bincount(y).tolist() == [10] * 10
    with pytest.raises(FileNotFoundError):  # another sample size: not shipped, and MNIST is not there
        replay.mnist_replay(200, seed=0)


@pytest.mark.parametrize(
    ("arrays", "why"),
    [
        ({"x": np.zeros((100, 784), np.uint8)}, r"arrays \['x'\]"),
        ({"x": np.zeros((100, 784), np.float32), "y": np.zeros(100, np.uint8)}, "x is float32"),
        ({"x": np.zeros((100, 784), np.uint8), "y": np.zeros(100, np.uint8)}, "the same number of each"),
        ({"x": np.zeros((100, 784), np.uint8), "y": np.full(100, 12, np.uint8)}, "the digits 0-9"),
    ],
)
def test_a_bad_replay_sample_is_refused_naming_the_file(tmp_path, arrays, why):
    path = tmp_path / "mnist-replay-100-seed0.npz"
    np.savez(path, **arrays)
    replay._read_sample.cache_clear()
    with pytest.raises(DataFileError, match=f"mnist-replay-100-seed0.npz: .*{why}"):
        replay._read_sample(path, 100)


def test_a_pickled_replay_sample_is_refused(tmp_path):
    path = tmp_path / "mnist-replay-100-seed0.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object), y=np.zeros(100, np.uint8))
    replay._read_sample.cache_clear()
    with pytest.raises(DataFileError, match="ValueError"):
        replay._read_sample(path, 100)
