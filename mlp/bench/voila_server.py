"""A Voila server for the dashboard, on a free local port, for tests and benchmarks.

Serving the notebook in a real browser is the only way to know that the
dashboard works for a visitor, so the browser test and the benchmark both
start one. This class keeps them honest and tidy: the server gets its own
Jupyter directories (so no configuration of yours changes what is measured),
it listens on 127.0.0.1 only, and ``stop()`` ends it and its kernels. It runs
from the repository's root, as the README's ``voila notebooks/10_draw_a_digit.ipynb``
does, so that it reads the same ``voila.json``: what is tested is what users get.

``test_mode=True`` disables Tornado's XSRF check. Only do that for a
throw-away server on localhost: a page that closes sends a "shut down my
kernel" beacon without an XSRF token, and we want that shutdown to happen so
that we can check kernels are released. Tornado settings given on the command
line replace those of ``voila.json`` instead of adding to them, so test mode
passes both.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parents[2]  # where the README runs voila from
NOTEBOOK = ROOT / "notebooks" / "10_draw_a_digit.ipynb"
VOILA_CONFIG = ROOT / "voila.json"  # voila reads it from the directory it starts in
# Headless Debian Chromium, quiet: no background downloads, no first-run work, no QUIC.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# JavaScript: is the pad painted? An unpainted canvas is transparent; ours is painted
# black when the page connects.
PAINTED = """() => {
    const canvas = document.querySelector("canvas.dp-canvas");
    return canvas !== null && canvas.getContext("2d").getImageData(4, 4, 1, 1).data[3] === 255;
}"""


def voila_tornado_settings() -> dict:
    """The Tornado settings that ``voila.json`` gives the dashboard's server."""
    return json.loads(VOILA_CONFIG.read_text())["Voila"]["tornado_settings"]


def free_port() -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VoilaServer:
    """``voila NOTEBOOK`` as a child process; use it as a context manager.

    >>> with VoilaServer() as server:          # doctest: +SKIP
    ...     print(server.url)
    """

    def __init__(
        self, notebook: str | Path = NOTEBOOK, *, test_mode: bool = False, extra_args: tuple = ()
    ) -> None:
        self.notebook = Path(notebook).resolve()
        if not self.notebook.is_file():
            raise FileNotFoundError(f"no notebook at {self.notebook}")
        if not self.notebook.is_relative_to(ROOT):
            raise ValueError(f"{self.notebook} is not in {ROOT}, where the server runs")
        self.test_mode = test_mode
        self.extra_args = tuple(extra_args)
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self._home: tempfile.TemporaryDirectory | None = None
        self._log: BinaryIO | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 60) -> VoilaServer:
        """Start the server; return once it accepts connections.

        We do not wait for a page: opening one would start a kernel.
        """
        self._home = tempfile.TemporaryDirectory(prefix="voila-")
        home = Path(self._home.name)
        env = dict(os.environ)
        for name in (
            "JUPYTER_CONFIG_DIR",
            "JUPYTER_DATA_DIR",
            "JUPYTER_RUNTIME_DIR",
            "IPYTHONDIR",
            "MPLCONFIGDIR",
        ):
            (home / name).mkdir()
            env[name] = str(home / name)
        self.port = free_port()
        settings = {**voila_tornado_settings(), "disable_check_xsrf": True} if self.test_mode else None
        command = [
            sys.executable,
            "-m",
            "voila",
            str(self.notebook.relative_to(ROOT)),
            "--no-browser",
            f"--port={self.port}",
            "--Voila.ip=127.0.0.1",
            f"--Voila.connection_dir_root={home}",
            *([f"--Voila.tornado_settings={settings!r}"] if settings else []),
            *self.extra_args,
        ]
        self._log = open(home / "voila.log", "wb")  # noqa: SIM115 -- closed in stop()
        # A process group of its own, so that stop() reaches the kernels it starts, and nothing else.
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        code, log = self.process.poll(), self.log()
        self.stop()
        what = f"exited with code {code}" if code is not None else f"did not listen within {timeout} s"
        raise RuntimeError(f"voila {what}; it printed:\n{log[-3000:]}")

    def log(self) -> str:
        """What the server printed so far (for a failing test's message)."""
        if self._home is None:
            return ""
        return (Path(self._home.name) / "voila.log").read_text(errors="replace")

    def kernel_running(self, kernel_id: str) -> bool:
        """Whether the server still runs the kernel ``kernel_id`` (asked through its REST API).

        Voila answers ``GET /api/kernels/<id>`` but, unlike Jupyter, does not
        list its kernels; a page's kernel id is in the URL of its websocket.
        """
        try:
            with urllib.request.urlopen(f"{self.url}api/kernels/{kernel_id}", timeout=10) as response:
                return json.load(response)["id"] == kernel_id
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return False
            raise

    def memory(self) -> tuple[int, int]:
        """``(bytes, processes)``: resident memory of the server and its kernels, and their number."""
        import psutil  # a dependency of ipykernel, needed only here

        server = psutil.Process(self.process.pid)
        processes = [server, *server.children(recursive=True)]
        rss = 0
        for p in processes:
            with contextlib.suppress(psutil.NoSuchProcess):  # a kernel that just ended
                rss += p.memory_info().rss
        return rss, len(processes)

    def stop(self, timeout: float = 10) -> None:
        """Stop the server and the kernels it started; calling it again does nothing."""
        process, self.process = self.process, None
        if process is not None:
            _signal(process, signal.SIGTERM)  # the server shuts its kernels down, then exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
            # Whatever is left (a hung server, a kernel that outlived it) is killed.
            _signal(process, getattr(signal, "SIGKILL", signal.SIGTERM))
            process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._home is not None:
            self._home.cleanup()
            self._home = None

    def __enter__(self) -> VoilaServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _signal(process: subprocess.Popen, signum: int) -> None:
    """Send ``signum`` to the server and, on POSIX, to every process of its group (its kernels)."""
    with contextlib.suppress(ProcessLookupError):
        if os.name == "posix":
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
