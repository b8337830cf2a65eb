"""The README's JupyterLab path as a learner takes it: ``jupyter lab``, notebook 01, then the dashboard.

Nothing here is started the test's way rather than the README's: the command is
the README's ``jupyter lab``, with only what a test needs (a free port on
127.0.0.1, a token, empty Jupyter directories of its own, ``--allow-root`` when
tests run as root, as the README tells container users). The server's settings
(the 64 MiB message limit, the dashboard's template) come from where
``pip install`` put them, ``<venv>/etc/jupyter/jupyter_server_config.json``:
that is what this test checks, since without them "Render with Voilà" never
finished loading the dashboard.

The server runs in a copy of the repository's notebooks, so that JupyterLab's
saves (running notebook 01 changes its outputs) never touch the checkout.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect

from benchmarks.drivers.pages import ONE, TIMEOUT_MS
from benchmarks.drivers.voila_server import ROOT, JupyterServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIRST = "notebooks/01_mnist.ipynb"
DASHBOARD = "notebooks/10_draw_a_digit.ipynb"


@pytest.fixture(scope="module")
def checkout_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's notebooks and the pictures they show, in a folder JupyterLab may write to."""
    copy = tmp_path_factory.mktemp("checkout")
    ignore = shutil.ignore_patterns("*.npz", ".ipynb_checkpoints", "yours")
    shutil.copytree(ROOT / "notebooks", copy / "notebooks", ignore=ignore)
    (copy / "data").mkdir()
    for picture in (ROOT / "data").glob("*.png"):
        shutil.copy(picture, copy / "data" / picture.name)
    return copy


@pytest.fixture(scope="module")
def lab(checkout_copy: Path) -> Iterator[JupyterServer]:
    """``jupyter lab`` from the root of the (copied) checkout, reading only the environment's settings."""
    assert (Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.json").is_file(), (
        "pip install puts the dashboard's server settings in <venv>/etc/jupyter/"
    )
    with JupyterServer(checkout_copy / DASHBOARD, root=checkout_copy) as server:
        yield server


@pytest.fixture(scope="module")
def lab_page(browser: Browser, lab: JupyterServer) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    yield page
    page.close()


def open_notebook(page: Page, lab: JupyterServer, path: str) -> None:
    """Open ``path`` in JupyterLab and wait until its kernel is idle."""
    page.goto(f"{lab.url}lab/tree/{path}?token={lab.token}", timeout=TIMEOUT_MS)
    expect(page.get_by_role("tab", name=Path(path).name, selected=True)).to_be_visible(timeout=TIMEOUT_MS)
    idle = page.locator(".jp-StatusBar-Widget").filter(has_text="| Idle")
    expect(idle).to_have_count(1, timeout=TIMEOUT_MS)


def saved_notebook(path: Path, timeout_s: float) -> dict:
    """The notebook as JupyterLab saved it, once every code cell in it has run (or the timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        notebook = json.loads(path.read_text())
        counts = [cell.get("execution_count") for cell in notebook["cells"] if cell["cell_type"] == "code"]
        if all(counts) or time.monotonic() > deadline:
            return notebook
        time.sleep(1)


def test_notebook_01_opens_unmodified_and_runs_top_to_bottom(
    lab: JupyterServer, lab_page: Page, checkout_copy: Path
) -> None:
    open_notebook(lab_page, lab, FIRST)
    # Opening must not change the notebook: its kernelspec names the kernel as ipykernel does.
    expect(lab_page.locator(".jp-Document.jp-mod-dirty, .lm-TabBar-tab.jp-mod-dirty")).to_have_count(0)

    lab_page.get_by_role("menuitem", name="Run", exact=True).click()
    lab_page.locator("li[data-command='runmenu:run-all']").click()
    # Run All ends on the last cell; it has run once its prompt shows a number and the kernel is idle.
    last_prompt = lab_page.locator(".jp-CodeCell .jp-InputPrompt").last
    expect(last_prompt).to_have_text(re.compile(r"^\[\d+\]:$"), timeout=TIMEOUT_MS)
    expect(lab_page.locator(".jp-StatusBar-Widget").filter(has_text="| Idle")).to_have_count(1)

    lab_page.keyboard.press("Control+s")
    notebook = saved_notebook(checkout_copy / FIRST, timeout_s=60)
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(cell.get("execution_count") for cell in code), "every cell of notebook 01 ran"
    errors = [o for cell in code for o in cell.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, [f"{e['ename']}: {e['evalue']}" for e in errors]


def render_with_voila(page: Page) -> FrameLocator:
    """Press the notebook's "Render with Voilà" button; the dashboard's frame once it is drawable."""
    page.locator(".jp-NotebookPanel:visible jp-button[title='Render with Voilà']").click()
    # JupyterLab asks before it runs a notebook whose saved outputs were not made on this machine.
    page.get_by_role("button", name="Render anyway").click(timeout=TIMEOUT_MS)
    page.wait_for_selector("iframe[src*='voila/render']", state="attached", timeout=TIMEOUT_MS)
    frame = page.frame_locator("iframe[src*='voila/render']")
    expect(frame.locator("canvas.dp-canvas")).to_be_visible(timeout=TIMEOUT_MS)
    # Drawable once the canvas is painted black: its kernel is connected (PAINTED, inside the frame).
    canvas = frame.locator("canvas.dp-canvas")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not canvas.evaluate("(c) => c.getContext('2d').getImageData(4, 4, 1, 1).data[3] === 255"):
        assert time.monotonic() < deadline, "the dashboard's pad was never painted"
        time.sleep(0.1)
    return frame


def test_render_with_voila_gives_a_dashboard_that_reads_a_drawing(lab: JupyterServer, lab_page: Page) -> None:
    open_notebook(lab_page, lab, DASHBOARD)
    frame = render_with_voila(lab_page)
    # Drawn with the mouse, in page coordinates: the frame's canvas is where the page shows it.
    box = frame.locator("canvas.dp-canvas").bounding_box()
    scale = box["width"] / 280  # the strokes are in CSS pixels of a 280-pixel pad
    lab_page.mouse.move(box["x"] + ONE[0][0] * scale, box["y"] + ONE[0][1] * scale)
    lab_page.mouse.down()
    for x, y in ONE[1:]:
        lab_page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=4)
    lab_page.mouse.up()
    result = frame.locator(".dp-result")
    expect(result).to_have_attribute("data-strokes", "1", timeout=30_000)
    expect(result.locator(".dp-digit")).to_have_text("1")
    # Voila 0.5's exporter failed on the Markdown image of a notebook-only cell: no longer there.
    assert "TypeError: 'coroutine' object is not subscriptable" not in lab.log()
