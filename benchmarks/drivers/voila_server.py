"""The dashboard's server, started as a user starts it, on a free local port, for tests and benchmarks.

Serving the notebook to a real browser is the only way to know that the
dashboard works for a visitor, so the browser tests and the benchmarks start a
server. Two kinds, as users run them:

* ``VoilaServer``: the README's ``voila notebooks/10_draw_a_digit.ipynb``, run
  from the repository's root, so that it reads the same ``voila.json``;
* ``JupyterServer``: ``jupyter lab`` (or ``jupyter server``), which serves the
  dashboard at ``/voila/render/notebooks/10_draw_a_digit.ipynb`` as JupyterLab's
  "Render with Voilà" and Binder do, started as the README starts it (the
  server's settings come from ``jupyter_server_config.json``, which ``pip install``
  puts in the environment's ``etc/jupyter/``), with a token, as always.

What is measured is what users get: every check (XSRF, the token) stays on.
The only switches are the test's own, and none of them changes how a page is
served: the server listens on 127.0.0.1 at a free port, gets empty Jupyter
directories of its own (so that no configuration in your home directory
changes what is measured; the environment's configuration and templates still
apply, as for a user), and ``--allow-root`` where tests run as root (Jupyter
refuses to start as root otherwise). ``stop()`` ends the server and its kernels.
pytest's ``PYTEST_CURRENT_TEST`` is not passed on: with it, a kernel does not
forward what it writes to its stderr to the page (ipykernel's test switch), and
a test would miss what a visitor sees.

``root`` serves another checkout of the project (its ``voila.json``, notebook,
template and ``mlp``, ahead of the installed one): ``python -m benchmarks
attacks --root`` measures an older commit with today's benchmark.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, BinaryIO

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
# Where Jupyter, IPython and Matplotlib look for a user's own settings: empty ones for the test.
_ISOLATED_DIRS = (
    "JUPYTER_CONFIG_DIR",
    "JUPYTER_DATA_DIR",
    "JUPYTER_RUNTIME_DIR",
    "IPYTHONDIR",
    "MPLCONFIGDIR",
)


def voila_config() -> dict[str, Any]:
    """The configuration that ``voila.json`` gives the dashboard's standalone server."""
    return json.loads(VOILA_CONFIG.read_text())


def free_port() -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DashboardServer:
    """A server of the dashboard as a child process; use it as a context manager.

    >>> with VoilaServer() as server:          # doctest: +SKIP
    ...     print(server.page_url)
    """

    def __init__(
        self,
        notebook: str | Path | None = None,
        *,
        extra_args: tuple[str, ...] = (),
        root: str | Path | None = None,
    ) -> None:
        self.root = ROOT if root is None else Path(root).resolve()
        default = self.root / NOTEBOOK.relative_to(ROOT)
        self.notebook = Path(default if notebook is None else notebook).resolve()
        if not self.notebook.is_file():
            raise FileNotFoundError(f"no notebook at {self.notebook}")
        if not self.notebook.is_relative_to(self.root):
            raise ValueError(f"{self.notebook} is not in {self.root}, where the server runs")
        self.extra_args = tuple(extra_args)
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self._home: tempfile.TemporaryDirectory | None = None
        self._log: BinaryIO | None = None

    @property
    def url(self) -> str:
        """The server's root URL."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def page_url(self) -> str:
        """Where a visitor opens the dashboard."""
        raise NotImplementedError

    def command(self, home: Path) -> list[str]:
        """The command line that starts the server (``home``: the test's own directory)."""
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        """Environment variables the server is started with, as a user starts it."""
        return {}

    def start(self, timeout: float = 60) -> DashboardServer:
        """Start the server; return once it accepts connections.

        We do not wait for a page: opening one would start a kernel.
        """
        self._home = tempfile.TemporaryDirectory(prefix="dashboard-server-")
        home = Path(self._home.name)
        env = dict(os.environ)
        env.pop("PYTEST_CURRENT_TEST", None)
        if self.root != ROOT:  # another checkout: its package and its template first
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.root), env.get("PYTHONPATH")]))
            env["JUPYTER_PATH"] = os.pathsep.join(
                filter(None, [str(self.root / "share" / "jupyter"), env.get("JUPYTER_PATH")])
            )
        for name in _ISOLATED_DIRS:
            (home / name).mkdir()
            env[name] = str(home / name)
        env.update(self.environment())
        self.port = free_port()
        self._log = open(home / "server.log", "wb")  # noqa: SIM115 -- closed in stop()
        # A process group of its own, so that stop() reaches the kernels it starts, and nothing else.
        self.process = subprocess.Popen(
            self.command(home),
            cwd=self.root,
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
        raise RuntimeError(f"{type(self).__name__} {what}; it printed:\n{log[-3000:]}")

    def log(self) -> str:
        """What the server printed so far (for a failing test's message)."""
        if self._home is None:
            return ""
        return (Path(self._home.name) / "server.log").read_text(errors="replace")

    def api(self, path: str, timeout: float = 10) -> Any:
        """``GET`` the server's REST API at ``path`` (e.g. ``api/kernels/<id>``) and decode the JSON."""
        with urllib.request.urlopen(self._request(path), timeout=timeout) as response:
            return json.load(response)

    def _request(self, path: str) -> urllib.request.Request:
        return urllib.request.Request(self.url + path)

    def kernel(self, kernel_id: str) -> dict[str, Any] | None:
        """The server's model of the kernel ``kernel_id`` (``connections``, ``execution_state``…), or None."""
        try:
            return self.api(f"api/kernels/{kernel_id}")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def kernel_running(self, kernel_id: str) -> bool:
        """Whether the server still runs the kernel ``kernel_id``.

        Voila answers ``GET /api/kernels/<id>`` but, unlike Jupyter, does not
        list its kernels; a page's kernel id is in the URL of its websocket.
        """
        return self.kernel(kernel_id) is not None

    def processes(self) -> list:
        """The server's process and its kernels' (``psutil.Process``)."""
        import psutil  # a dependency of ipykernel, needed only here

        server = psutil.Process(self.process.pid)
        return [server, *server.children(recursive=True)]

    def memory(self) -> tuple[int, int]:
        """``(bytes, processes)``: resident memory of the server and its kernels, and their number."""
        import psutil

        processes = self.processes()
        rss = 0
        for p in processes:
            with contextlib.suppress(psutil.NoSuchProcess):  # a kernel that just ended
                rss += p.memory_info().rss
        return rss, len(processes)

    def kernel_processes(self) -> int:
        """How many kernel processes the server has running now."""
        import psutil

        count = 0
        for p in self.processes()[1:]:
            with contextlib.suppress(psutil.NoSuchProcess):
                count += any("ipykernel" in part for part in p.cmdline())
        return count

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

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class VoilaServer(DashboardServer):
    """``voila notebooks/10_draw_a_digit.ipynb`` from the repository's root, as the README runs it."""

    @property
    def page_url(self) -> str:
        return self.url

    def command(self, home: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "voila",
            str(self.notebook.relative_to(self.root)),
            "--no-browser",
            f"--port={self.port}",
            "--Voila.ip=127.0.0.1",
            f"--Voila.connection_dir_root={home}",
            *self.extra_args,
        ]


class JupyterServer(DashboardServer):
    """``jupyter lab`` (or ``app="server"``) from the repository's root, serving ``/voila/render/…``."""

    def __init__(
        self,
        notebook: str | Path = NOTEBOOK,
        *,
        app: str = "lab",
        root_dir: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        """``root_dir``: the folder the command names (``jupyter lab notebooks/``), relative to ``root``."""
        super().__init__(notebook, **kwargs)
        if app not in ("lab", "server"):
            raise ValueError(f"app is 'lab' or 'server', not {app!r}")
        self.app = app
        self.root_dir = None if root_dir is None else Path(root_dir)
        self.token = secrets.token_hex(16)

    @property
    def served_root(self) -> Path:
        """The folder the server shows: what its URLs are relative to."""
        return self.root if self.root_dir is None else self.root / self.root_dir

    @property
    def page_url(self) -> str:
        """The dashboard as "Render with Voilà" and Binder open it, logged in with the token."""
        path = self.notebook.relative_to(self.served_root).as_posix()
        return f"{self.url}voila/render/{path}?token={self.token}"

    def _request(self, path: str) -> urllib.request.Request:
        return urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})

    def command(self, home: Path) -> list[str]:
        as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        return [
            sys.executable,
            "-m",
            "jupyter",
            self.app,
            *([] if self.root_dir is None else [str(self.root_dir)]),
            "--no-browser",
            f"--port={self.port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            *as_root,
            *self.extra_args,
        ]


def _signal(process: subprocess.Popen, signum: int) -> None:
    """Send ``signum`` to the server and, on POSIX, to every process of its group (its kernels)."""
    with contextlib.suppress(ProcessLookupError):
        if os.name == "posix":
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
