"""The pad's files and what it says about them: Load model, whose network reads, one-click Examples,
model files under Load examples, loading twice, Undo forget, and examples kept across a reload."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

import mlp
from mlp.pad import files, frontend, layout
from mlp.pad.styles import strokes
from mlp.pad.widget import DigitPad
from mlp.training.examples import load_examples


@pytest.fixture(scope="module")
def model() -> mlp.Sequential:
    return mlp.load_model()


@pytest.fixture
def pad(model) -> DigitPad:
    return DigitPad(model=model)


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#x27;", "'").split())


def teach_zeros(pad: DigitPad, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(n):
        pad.clear()
        pad.draw(strokes("slashed_zero", rng))
        assert pad.add_example(0)


def upload(widget, name: str, data: bytes) -> None:
    frontend.receive(widget, *frontend.file_chosen(name, data, "application/octet-stream"))


@pytest.fixture(scope="module")
def learner_model_file(tmp_path_factory, model) -> bytes:
    """A learner's saved network, as notebook 06 saves it: ``made_by="you"``."""
    mine = model.astype(model.dtype)
    mine.metadata = {}
    path = tmp_path_factory.mktemp("learner") / "my-model.npz"
    mlp.save_model(mine, path, made_by="you")
    return path.read_bytes()


def test_the_pad_says_whose_network_reads(model, learner_model_file, tmp_path):
    assert text(DigitPad().network.value) == "Network: the course's (mlp-mnist.npz)"
    path = tmp_path / "my-model.npz"
    path.write_bytes(learner_model_file)
    assert text(DigitPad(model=path).network.value) == "Network: yours (my-model.npz)"
    assert text(DigitPad(model=model).network.value) == "Network: the course's"  # given in code: no file


def test_load_model_reads_with_the_learners_network_and_forget_returns_to_it(pad, learner_model_file):
    teach_zeros(pad, 2)
    upload(pad.teach.load_model_button, "my-model.npz", learner_model_file)
    assert text(pad.network.value) == "Network: yours (my-model.npz)"
    assert pad.model.metadata["made_by"] == "you" and pad.initial_model is pad.model
    assert len(pad.examples[1]) == 2, "the examples are kept"
    assert "Reading with the network in my-model.npz" in text(pad.teach.said.value)
    pad.learn(wait=True)
    assert text(pad.network.value) == "Network: yours (my-model.npz), taught 2 of your examples"
    pad.reset_model()
    assert text(pad.network.value) == "Network: yours (my-model.npz)"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a zip at all", "Cannot use bad.npz: bad.npz is not a usable model file: it is not an .npz"),
        (b"PK\x03\x04 truncated", "Cannot use bad.npz: bad.npz is not a usable model file"),
    ],
)
def test_a_bad_model_file_is_refused_plainly_and_nothing_is_lost(pad, data, message):
    teach_zeros(pad, 1)
    before = pad.model
    upload(pad.teach.load_model_button, "bad.npz", data)
    said = text(pad.teach.said.value)
    assert said.startswith(message) and "/tmp" not in said and "upload.npz" not in said, said
    assert pad.model is before and len(pad.examples[1]) == 1


def test_an_examples_file_under_load_model_and_a_model_file_under_load_examples(pad, learner_model_file):
    teach_zeros(pad, 1)
    examples = files.examples_bytes(*pad.examples)
    upload(pad.teach.load_model_button, "my-examples.npz", examples)
    assert (
        text(pad.teach.said.value)
        == "my-examples.npz is an examples file, drawings with labels: use Load examples."
    )
    upload(pad.teach.load, "my-model.npz", learner_model_file)
    said = text(pad.teach.said.value)
    assert said == "my-model.npz is a model file, a whole network: use Load model to read with it."
    assert ".npy" not in said and len(pad.examples[1]) == 1


def test_examples_are_one_click_link_named_like_the_button(pad):
    assert "dp-disabled" in pad.teach.save_examples.value, "no examples: nothing to save"
    teach_zeros(pad, 2)
    html = pad.teach.save_examples.value
    match = re.search(
        r'<a class="dp-download" role="button" download="([^"]+)"'
        r'.*base64,([^"]+)"><i [^>]+></i> Examples</a>',
        html,
    )
    assert match and match.group(1) == files.EXAMPLES_FILE == "my-examples.npz"
    x, y = load_examples(base64.b64decode(match.group(2)))
    assert y.tolist() == [0, 0]
    np.testing.assert_array_equal(x, pad.examples[0])


def test_loading_the_same_file_twice_does_not_double_it(pad, tmp_path):
    teach_zeros(pad, 3)
    data = files.examples_bytes(*pad.examples)
    other = DigitPad(model=pad.model)
    teach_zeros(other, 1, seed=1)
    upload(other.teach.load, "my-examples.npz", data)
    assert len(other.examples[1]) == 4
    assert text(other.teach.said.value) == "Loaded 3 examples. Teach to learn from them."
    upload(other.teach.load, "my-examples.npz", data)
    assert len(other.examples[1]) == 4
    assert (
        text(other.teach.said.value) == "All 3 examples in my-examples.npz are already here: nothing added."
    )


def test_forget_can_be_undone_until_the_examples_change(pad):
    teach_zeros(pad, 2)
    pad.learn(wait=True)
    taught = pad.model
    frontend.click(pad.teach.forget_button)
    assert pad.model is pad.initial_model and len(pad.examples[1]) == 0
    assert pad.teach.undo_forget_button.layout.display is None, "Undo forget is offered"
    frontend.click(pad.teach.undo_forget_button)
    assert pad.model is taught and len(pad.examples[1]) == 2
    assert text(pad.network.value).endswith("taught 2 of your examples")
    assert pad.teach.undo_forget_button.layout.display == "none"
    frontend.click(pad.teach.forget_button)
    teach_zeros(pad, 1, seed=5)  # a new example: what Forget dropped is gone for good
    assert pad.teach.undo_forget_button.layout.display == "none"
    pad.teach.undo_forget()
    assert len(pad.examples[1]) == 1 and "Nothing to bring back" in text(pad.teach.said.value)


def test_what_teaching_changed_goes_away_with_the_next_drawing(pad):
    teach_zeros(pad, 3)
    pad.learn(wait=True)
    assert 'class="dp-change"' in pad.teach.said.value, "0: x% → y% about the drawing on the pad"
    pad.clear()
    pad.draw(strokes("seven", np.random.default_rng(1)))
    assert 'class="dp-change"' not in pad.teach.said.value
    assert "Taught on 3 examples" in text(pad.teach.said.value)


def test_examples_are_kept_in_the_browser_and_forget_removes_them(pad):
    assert pad.teach.keeper.value == "", "a fresh pad removes nothing the browser kept"
    teach_zeros(pad, 2)
    stored = re.search(
        r"setItem\(&#x27;mlp-pad-examples:&#x27; \+ location.pathname, &#x27;([^&]+)&#x27;",
        pad.teach.keeper.value,
    )
    assert stored, pad.teach.keeper.value[:200]
    assert load_examples(base64.b64decode(stored.group(1)))[1].tolist() == [0, 0]
    pad.reset_model()
    assert "removeItem" in pad.teach.keeper.value


def test_examples_the_browser_kept_come_back_with_a_message(pad):
    teach_zeros(pad, 2)
    data = files.examples_bytes(*pad.examples)
    fresh = DigitPad(model=pad.model)
    upload(fresh.teach.load, layout.KEPT_EXAMPLES_FILE, data)
    assert len(fresh.examples[1]) == 2
    assert text(fresh.teach.said.value).startswith(
        "Brought back your 2 examples from before the page reloaded."
    )
    assert "examples kept by this browser" in layout.STYLE, "the page's script names the file so"
    assert "Taught examples" not in text(fresh.teach.keep_note.value)
    assert "the taught network is not kept" in text(fresh.teach.keep_note.value)
