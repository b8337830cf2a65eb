"""Fixtures the browser tests share: one dashboard server and one headless Chromium per test module.

The server is the README's (``voila.json``, XSRF check on, culling on): what is
tested is what a visitor gets. Chromium is Debian's, driven by Playwright; in CI
a missing browser fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from benchmarks.drivers.pages import CHROMIUM
from benchmarks.drivers.voila_server import VoilaServer


def pytest_configure(config: pytest.Config) -> None:
    # The suite keeps answers in a directory of its own (the notebooks' kernels inherit it): a learner's
    # own kept code and network (notebooks/yours/) never change what the committed notebooks must print,
    # and no test overwrites them.
    os.environ["MLP_YOURS_DIR"] = tempfile.mkdtemp(prefix="mlp-yours-")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(os.environ.pop("MLP_YOURS_DIR", ""), ignore_errors=True)


@pytest.fixture(scope="module")
def server() -> Iterator[VoilaServer]:
    with VoilaServer() as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if CHROMIUM is None and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (apt-get install chromium); CI runs this test")
    assert CHROMIUM, "the browser tests must run in CI: install Chromium (apt-get install chromium)"
    from playwright.sync_api import sync_playwright

    from benchmarks.drivers.pages import launch

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()
