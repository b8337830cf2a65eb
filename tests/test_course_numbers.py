"""The notebooks' number formats, and the sanitize file that lets nbval skip the digits of rounding noise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlp.course.numbers import about, significant

SANITIZE_FILE = Path(__file__).resolve().parents[1] / "nbval_sanitize.cfg"


def sanitize(text: str) -> str:
    """What nbval does with the file: every ``regex:`` line replaced by the ``replace:`` line after it."""
    patterns = re.findall(r"^regex: (.*)$\n^replace: (.*)$", SANITIZE_FILE.read_text(), flags=re.MULTILINE)
    assert patterns, "the sanitize file must hold at least one regex/replace pair"
    for regex, replacement in patterns:
        text = re.sub(regex, replacement, text)
    return text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.735e-12, "~3e-12"),
        (4.142e-12, "~4e-12"),
        (1.5e-3, "~2e-3"),
        (0.714, "~0.7"),
        (0.0, "~0"),
        (-3e-5, "~-3e-5"),
    ],
)
def test_about_writes_rounding_noise_to_one_digit_after_a_tilde(value, text):
    assert about(value) == text


def test_about_leaves_non_finite_values_alone():
    assert about(float("inf")) == "inf" and about(float("nan")) == "nan"


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (5 / 7, 2, "0.71"),
        (4.5e-6, 2, "4.5e-6"),
        (2.93e-7, 2, "2.9e-7"),
        (6.0, 2, "6"),
        (1.9e-6, 2, "1.9e-6"),
        (0.01, 2, "0.01"),
    ],
)
def test_significant_writes_exponents_without_padding(value, digits, text):
    assert significant(value, digits) == text


@pytest.mark.parametrize("value", [2.7e-12, 4.1e-12, 1e-16, 0.0, 3.3e-3, 0.12, 1.5e-11, -2e-17])
def test_the_sanitize_file_turns_any_about_figure_into_the_same_text(value):
    line = f"relative error {about(value)} (threshold 1e-7)"
    assert sanitize(line) == "relative error ~noise (threshold 1e-7)"


def test_two_machines_that_round_differently_print_the_same_sanitized_line():
    on_one, on_another = 2.735e-12, 4.142e-12  # the same check under two OpenBLAS kernels
    assert about(on_one) != about(on_another)
    assert sanitize(f"relative error {about(on_one)}") == sanitize(f"relative error {about(on_another)}")


@pytest.mark.parametrize("value", [5 / 7, 4.5e-6, 2.9e-7, 0.24, 1.9e-6, 92.4, 1e-7])
def test_the_sanitize_file_leaves_every_other_figure_to_be_compared(value):
    for line in (
        f"bias relative error {significant(value)}",
        f"threshold {value:g}",
        f"accuracy {value:.1%}",
    ):
        assert sanitize(line) == line


def test_the_committed_notebooks_keep_their_real_digits_and_every_tilde_figure_is_sanitized():
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    text = "\n".join(path.read_text() for path in sorted(notebooks.glob("0[1-4]_*.ipynb")))
    assert "~noise" not in text, "commit the real figures, for a reader on GitHub"
    figures = re.findall(r"~[-\d.e+]+", text)
    assert figures and all(sanitize(figure) == "~noise" for figure in figures)
