"""Tests for mlp.training.data: the IDX reader on files written here, and MNIST as shipped in data/."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import shutil
import threading
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from peak_memory import peak_bytes_while

from mlp.training import data, fetch
from mlp.training.data import MNIST_FILES, DataFileError, download, load_mnist, read_idx

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "mnist"
CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode ``arr`` as IDX, independently of the reader under test."""
    header = bytes([0, 0, CODES[arr.dtype.type], arr.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write(path: Path, payload: bytes, gz: bool) -> Path:
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


ARRAYS = {
    "uint8-3d": np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 10,
    "int8-2d": np.array([[-128, 0], [5, 127]], dtype=np.int8),
    "int16-2d": np.array([[-32768, -1, 0], [1, 258, 32767]], dtype=np.int16),
    "int32-1d": np.array([-(2**31), 7, 2**31 - 1], dtype=np.int32),
    "float32-1d": np.array([0.0, -1.5, 3.25, np.inf], dtype=np.float32),
    "float64-2d": np.array([[np.pi, -0.0]], dtype=np.float64),
    "empty": np.zeros((0, 5), dtype=np.uint8),
}


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
@pytest.mark.parametrize("name", list(ARRAYS))
def test_read_idx_roundtrip(tmp_path: Path, name: str, gz: bool) -> None:
    expected = ARRAYS[name]
    # The name deliberately lies about compression: detection is by magic bytes.
    got = read_idx(write(tmp_path / "x.idx.gz", idx_bytes(expected), gz))
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype and got.dtype.isnative
    assert got.flags.writeable
    np.testing.assert_array_equal(got, expected)


GOOD = idx_bytes(np.arange(6, dtype=np.int16).reshape(2, 3))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x01\x00" + GOOD[2:], "not an IDX file"),
        (b"", "not an IDX file"),
        (GOOD[:2] + b"\x0a" + GOOD[3:], "unknown IDX type code 0x0A"),
        (GOOD[:6], "header truncated"),
        (GOOD[:-1], "truncated"),
        (GOOD + b"\0\0", "too long"),
    ],
    ids=["bad-magic", "empty", "unknown-type", "short-header", "truncated", "too-long"],
)
@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_read_idx_rejects_bad_files(tmp_path: Path, payload: bytes, message: str, gz: bool) -> None:
    path = write(tmp_path / "bad.idx", payload, gz)
    with pytest.raises(DataFileError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_read_idx_rejects_broken_gzip(tmp_path: Path) -> None:
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(GOOD)[:-6])
    with pytest.raises(DataFileError, match="gzip"):
        read_idx(path)


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(DATA_DIR, download=False)


def test_load_mnist_shapes_dtypes_range(mnist) -> None:
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60_000, 784) and x_test.shape == (10_000, 784)
    assert y_train.shape == (60_000,) and y_test.shape == (10_000,)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    for x in (x_train, x_test):
        assert x.min() == 0.0 and x.max() == 1.0
    # Exactly k/255 for the original byte k.
    raw = read_idx(DATA_DIR / "t10k-images-idx3-ubyte.gz").reshape(10_000, 784)
    np.testing.assert_array_equal(x_test, raw.astype(np.float32) / np.float32(255))


def test_load_mnist_labels(mnist) -> None:
    (_, y_train), (_, y_test) = mnist
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(y_train, minlength=10).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949,
    ]  # fmt: skip
    assert np.bincount(y_test, minlength=10).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009,
    ]  # fmt: skip


def test_load_mnist_is_cached_and_read_only(mnist) -> None:
    again = load_mnist(DATA_DIR, download=False)
    assert again[0][0] is mnist[0][0]
    for arr in (*mnist[0], *mnist[1]):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 0
    assert mnist[0][0].copy().flags.writeable


def test_corrupt_file_names_file_and_both_checksums(tmp_path: Path) -> None:
    for name in MNIST_FILES:
        shutil.copy(DATA_DIR / name, tmp_path / name)
    name = "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress((tmp_path / name).read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # still a valid label: only the checksum can tell
    (tmp_path / name).write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataFileError) as info:
        load_mnist(tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / name) in message
    assert MNIST_FILES[name][0] in message
    assert hashlib.sha256(raw).hexdigest() in message
    assert "delete" in message


def test_missing_file_without_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch.urllib.request, "urlopen", pytest.fail)  # must not touch the network
    monkeypatch.setenv("MLP_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz") as info:
        load_mnist(download=False)
    assert str(tmp_path) in str(info.value)
    assert data.MIRRORS[0] in str(info.value)


def test_download_from_file_mirror(tmp_path: Path) -> None:
    name = "train-labels-idx1-ubyte.gz"
    dead = (tmp_path / "nowhere").as_uri() + "/"
    good = DATA_DIR.as_uri() + "/"
    target = download(name, tmp_path / "out", [dead, good])
    assert target == tmp_path / "out" / name
    assert target.read_bytes() == (DATA_DIR / name).read_bytes()
    assert [p.name for p in target.parent.iterdir()] == [name]  # no temporary files left


def test_download_with_wrong_checksum_leaves_nothing(tmp_path: Path) -> None:
    name = "train-labels-idx1-ubyte.gz"
    with pytest.raises(FileNotFoundError, match="checksum mismatch") as info:
        download(name, tmp_path, [DATA_DIR.as_uri() + "/"], sha256="0" * 64)
    assert name in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_download_all_mirrors_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(url: str, timeout: float):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(fetch.urllib.request, "urlopen", refuse)
    mirrors = ["https://a.invalid/mnist/", "https://b.invalid/mnist/"]
    with pytest.raises(FileNotFoundError) as info:
        download("t10k-labels-idx1-ubyte.gz", tmp_path, mirrors)
    for mirror in mirrors:
        assert mirror + "t10k-labels-idx1-ubyte.gz" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_load_mnist_downloads_missing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "MIRRORS", (DATA_DIR.as_uri() + "/",))
    shutil.copy(DATA_DIR / "train-images-idx3-ubyte.gz", tmp_path)  # the other three are fetched
    (x_train, y_train), (x_test, _) = load_mnist(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(MNIST_FILES)
    assert x_train.shape == (60_000, 784) and x_test.shape == (10_000, 784)
    assert y_train[:3].tolist() == [5, 0, 4]


# --- Hostile files: read the header first, never decompress more than it declares --------------------


def gzip_bomb(path: Path, header: bytes, mebibytes: int) -> Path:
    """``header`` then ``mebibytes`` MiB of zeros, as a gzip file of about a kilobyte per MiB.

    gzip allows several members one after the other; a reader decompresses them as one stream.
    """
    zeros = gzip.compress(bytes(2**20), compresslevel=9)
    path.write_bytes(gzip.compress(header) + zeros * mebibytes)
    return path


def test_a_gzip_bomb_is_not_decompressed_beyond_its_header(tmp_path):
    header = bytes([0, 0, 0x08, 1]) + (10).to_bytes(4, "big")  # declares 10 bytes of uint8
    bomb = gzip_bomb(tmp_path / "bomb.gz", header, 1024)  # then 1 GiB of zeros
    assert bomb.stat().st_size < 1_500_000

    def read():
        with pytest.raises(DataFileError, match="payload too long"):
            read_idx(bomb)

    assert peak_bytes_while(read) < 2_000_000


def test_a_header_declaring_more_than_the_limit_is_refused_before_decompressing(tmp_path):
    header = bytes([0, 0, 0x08, 3]) + b"".join((1024).to_bytes(4, "big") for _ in range(3))  # 1 GiB
    bomb = gzip_bomb(tmp_path / "big.gz", header, 64)

    def read():
        with pytest.raises(
            DataFileError, match=r"declares \(1024, 1024, 1024\) of uint8.*more than the limit"
        ):
            read_idx(bomb)

    assert peak_bytes_while(read) < 1_000_000
    small = gzip_bomb(tmp_path / "small.gz", bytes([0, 0, 0x08, 1]) + (2**20).to_bytes(4, "big"), 1)
    with pytest.raises(DataFileError, match="more than the limit of 1,000 bytes"):
        read_idx(small, max_bytes=1000)
    assert read_idx(small, max_bytes=None).shape == (2**20,)


def test_dimensions_whose_product_overflows_are_refused(tmp_path):
    header = bytes([0, 0, 0x0E, 3]) + b"".join((2**32 - 1).to_bytes(4, "big") for _ in range(3))
    path = write(tmp_path / "overflow.idx", header, gz=False)
    with pytest.raises(
        DataFileError, match=r"the dimensions \(4294967295, 4294967295, 4294967295\) overflow"
    ):
        read_idx(path, max_bytes=None)


def test_load_mnist_caps_each_file_at_its_known_size(tmp_path):
    for name in MNIST_FILES:
        shutil.copy(DATA_DIR / name, tmp_path / name)
    # Valid IDX within read_idx's limit, but ten times the 10,008 bytes that MNIST_FILES knows of.
    fake = bytes([0, 0, 0x08, 1]) + (100_000).to_bytes(4, "big")
    gzip_bomb(tmp_path / "t10k-labels-idx1-ubyte.gz", fake, 1)
    with pytest.raises(DataFileError, match="more than the limit of 10,008 bytes"):
        load_mnist(tmp_path, download=False)


# --- The download: an overall deadline and a size cap, against a local server --------------------


class Server:
    """A local HTTP server in a thread, whose handler counts the bytes it managed to send."""

    def __init__(self, body: bytes, *, seconds_per_chunk: float = 0.0, chunk: int = 1, endless: bool = False):
        self.sent = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                try:
                    while True:
                        for start in range(0, len(body), chunk):
                            self.wfile.write(body[start : start + chunk])
                            self.wfile.flush()
                            server.sent += len(body[start : start + chunk])
                            time.sleep(seconds_per_chunk)
                        if not endless:
                            break
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up: what the tests want to see

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


NAME = "t10k-labels-idx1-ubyte.gz"


def test_a_slow_server_is_given_up_at_the_deadline(tmp_path):
    body = (DATA_DIR / NAME).read_bytes()  # ~5 KB, one byte every 20 ms: 100 s to send it all
    with Server(body, seconds_per_chunk=0.02) as slow:
        with pytest.raises(FileNotFoundError, match="the deadline passed after") as info:
            download(NAME, tmp_path, [slow.url], deadline=0.5, timeout=5)
        sent = slow.sent
    assert sent < len(body) // 4  # gave up long before the end, although every byte came in time
    assert slow.url + NAME in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_deadline_covers_every_mirror(tmp_path):
    body = (DATA_DIR / NAME).read_bytes()
    with (
        Server(body, seconds_per_chunk=0.02) as one,
        Server(body, seconds_per_chunk=0.02) as two,
        pytest.raises(FileNotFoundError),
    ):
        download(NAME, tmp_path, [one.url, two.url], deadline=0.5, timeout=5)
    assert one.sent + two.sent < len(body) // 4


def test_a_server_sending_too_much_is_cut_off(tmp_path):
    with Server(bytes(65536), chunk=65536, endless=True) as flood:
        with pytest.raises(FileNotFoundError, match="more than 10,000 bytes"):
            download(NAME, tmp_path, [flood.url], max_bytes=10_000)
        sent = flood.sent
    assert sent < 50 * 2**20  # stopped, not read for ever
    assert list(tmp_path.iterdir()) == []


def test_a_healthy_server_downloads(tmp_path):
    body = (DATA_DIR / NAME).read_bytes()
    with Server(body, chunk=1024) as good:
        path = download(NAME, tmp_path, [good.url])
    assert path.read_bytes() == body


def test_load_mnist_passes_its_download_limits_on(tmp_path, monkeypatch):
    body = (DATA_DIR / NAME).read_bytes()
    for name in MNIST_FILES:
        if name != NAME:
            shutil.copy(DATA_DIR / name, tmp_path / name)
    with Server(body, seconds_per_chunk=0.02) as slow:
        monkeypatch.setattr(data, "MIRRORS", (slow.url,))
        with pytest.raises(FileNotFoundError, match=r"within 0\.3 s"):
            load_mnist(tmp_path, download_deadline=0.3)


# --- Where the files are ---------------------------------------------------------------------------


def test_mnist_dir_lookup_order(tmp_path, monkeypatch):
    from mlp.training import locations

    monkeypatch.delenv("MLP_DATA_DIR", raising=False)
    assert data.mnist_dir(tmp_path) == tmp_path.resolve()  # an explicit folder first
    assert data.mnist_dir() == DATA_DIR  # in a checkout: its data/mnist
    monkeypatch.setenv("MLP_DATA_DIR", str(tmp_path))
    assert data.mnist_dir() == tmp_path.resolve()  # the environment before the checkout
    monkeypatch.delenv("MLP_DATA_DIR")
    installed = tmp_path / "share" / "mlp-from-scratch"
    (installed / "mnist").mkdir(parents=True)
    monkeypatch.setattr(data, "checkout_data_dir", lambda: None)
    monkeypatch.setattr(data, "installed_data_dir", lambda: installed)
    assert data.mnist_dir() == installed / "mnist"  # no checkout: the installed copy
    monkeypatch.setattr(data, "installed_data_dir", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data.mnist_dir() == tmp_path / "cache" / "mlp-from-scratch" / "mnist"  # nothing: the cache
    assert locations.user_cache_dir() == tmp_path / "cache" / "mlp-from-scratch"
