"""The Tokens and Compare models tabs, driven by streamlit.testing.v1.AppTest.

Each test runs a tiny page that calls one render function, with the tiny offline models from
conftest.py (a WordPiece BERT of width 32 and a byte-level GPT-2 of width 48) or the bundled
default model, on a few sample sentences.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, poll, require, streamlit_server
from streamlit.testing.v1 import AppTest

from app import state
from app.components.map import PAYLOADS
from app.sections import compare as compare_section
from embeddings.mapdata import unpack_map_data
from embeddings.encode import tokenize
from embeddings.choices import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 600  # seconds per script run: loading and encoding on a shared, loaded 2-core machine (a hang guard)
# The same bundled model under a second name: identical vectors, so every figure must be 1.
DEFAULT_ALIAS = "sentence-transformers/all-MiniLM-L6-v2"


def tokens_page(root: str, model: str) -> None:
    import sys

    if root not in sys.path:
        sys.path.insert(0, root)
    from app.sections.tokens import render_tokens

    render_tokens(model)


def compare_page(root: str, default_model: str, texts: list[str]) -> None:
    import sys

    if root not in sys.path:
        sys.path.insert(0, root)
    from app.sections.compare import render_compare
    from embeddings.data import from_texts

    render_compare(from_texts(texts), default_model)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """24 sample sentences, four per topic: enough for k=10 neighbourhoods, quick to encode."""
    frame = pd.read_csv(ROOT / "sample_data" / "sentences.csv")
    return frame.groupby("topic").head(4)["text"].tolist()


def run_tokens(model: str, text: str | None = None) -> AppTest:
    at = AppTest.from_function(tokens_page, args=(str(ROOT), model), default_timeout=TIMEOUT)
    at.run()
    if text is not None:
        at.text_area(key=state.TOKENS_TEXT).set_value(text).run()
    return at


def run_compare(default_model: str, texts: list[str], specs: list[str]) -> AppTest:
    at = AppTest.from_function(compare_page, args=(str(ROOT), default_model, texts), default_timeout=TIMEOUT)
    at.session_state[state.COMPARE_MODELS] = specs
    at.run()
    compare_button = next(b for b in at.button if b.label == "Compare")
    compare_button.click().run()
    return at


def metric_values(at: AppTest) -> dict[str, list[float]]:
    values: dict[str, list[float]] = {}
    for metric in at.metric:
        values.setdefault(metric.label, []).append(float(metric.value))
    return values


def maps(at: AppTest) -> list[dict]:
    """Every point map on the page: its arguments and its data, decoded as the browser reads it."""
    found = []
    for element in at.get("component_instance"):
        args = json.loads(element.proto.json_args)
        data_id, payload = at.session_state[PAYLOADS][args["key"]]
        assert data_id == args["data_id"]
        header, arrays = unpack_map_data(payload)
        found.append({"args": args, "header": header, "arrays": arrays})
    return found


def chart_titles(at: AppTest) -> list[str]:
    """The panel titles of every map, in order (a compare map has one panel per model)."""
    return [panel["title"] for m in maps(at) for panel in m["header"]["panels"]]


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# ---------------------------------------------------------------- tokens


@pytest.mark.parametrize("which", ["bert", "gpt2", "default"])
def test_token_table_rows_equal_tokenize(which: str, tiny_bert_dir: Path, tiny_gpt2_dir: Path) -> None:
    model = {"bert": str(tiny_bert_dir), "gpt2": str(tiny_gpt2_dir), "default": DEFAULT_MODEL}[which]
    text = "The river bank, unbelievably quiet at 6 a.m."
    at = run_tokens(model, text)
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    expected = tokenize(text, model)
    assert table["token"].tolist() == expected.tokens
    assert table["id"].tolist() == expected.ids
    assert list(zip(table["start"], table["end"])) == [tuple(span) for span in expected.offsets]
    assert table["special"].tolist() == expected.special
    for (start, end), special, piece in zip(expected.offsets, expected.special, table["text"]):
        assert piece == ("" if special else text[start:end])


def test_layer_slider_spans_the_model_and_every_layer_projects(tiny_bert_dir: Path) -> None:
    at = run_tokens(str(tiny_bert_dir))
    slider = at.slider(key=state.TOKENS_LAYER)
    assert (slider.min, slider.max, slider.value) == (0, 2, 2)  # the tiny BERT has 2 layers
    for layer in (0, 1):
        slider.set_value(layer).run()
        no_exception(at)
        assert not at.error
        assert any(title.startswith(f"Tokens at layer {layer} ") for title in chart_titles(at))


def test_several_texts_are_coloured_by_text(tiny_gpt2_dir: Path) -> None:
    at = run_tokens(str(tiny_gpt2_dir), "the cat sat\nthe dog barked loudly")
    no_exception(at)
    assert len(at.dataframe) >= 2  # one token table per text
    layer_map = maps(at)[0]
    assert layer_map["args"]["color_by"] == "text"
    legend = next(c["legend"] for c in layer_map["header"]["columns"] if c["name"] == "text")
    assert {entry["name"] for entry in legend} == {"1: the cat sat", "2: the dog barked loudly"}


def test_too_few_tokens_says_so(tiny_bert_dir: Path) -> None:
    at = run_tokens(str(tiny_bert_dir), "cat")
    no_exception(at)
    assert any("at least 3" in info.value for info in at.info)


def test_empty_text_is_one_error_line(tiny_bert_dir: Path) -> None:
    at = run_tokens(str(tiny_bert_dir), "   \n  ")
    no_exception(at)
    assert [e.value for e in at.error] == ["Type some text to tokenize."]


@pytest.mark.parametrize("model", ["/no/such/model/folder", "no-such-org/no-such-model-xyz"])
def test_unknown_model_is_an_error_not_an_exception(model: str) -> None:
    at = run_tokens(model)
    no_exception(at)
    assert len(at.error) == 1
    assert model in at.error[0].value


def test_vocabulary_word_list_and_a_clicked_token(tiny_bert_dir: Path) -> None:
    at = run_tokens(str(tiny_bert_dir))
    first = maps(at)[-1]  # the most frequent tokens: labelled from the start (where labels have room)
    assert first["header"]["n"] > 150 and first["args"]["label_by"] == "token"
    at.radio(key=state.VOCAB_SOURCE).set_value("My word list").run()
    at.text_area(key=state.VOCAB_WORDS).set_value("cat, dog, horse, bread").run()
    no_exception(at)
    assert not at.error
    at.selectbox(key=state.VOCAB_FOCUS).set_value("cat").run()
    no_exception(at)
    neighbours = at.dataframe[-1].value
    assert set(neighbours["token"]) == {"dog", "horse", "bread"}
    vocab = maps(at)[-1]
    assert vocab["header"]["n"] == 4 and len(vocab["args"]["highlight"]) == 4  # cat and its 3 neighbours
    # a click on "horse" in the map (what the browser reports) picks it in "Nearest tokens to"
    at.session_state[state.VOCAB_CHART] = {"seq": 10**13, "type": "click", "clicked": 2, "selection": [2]}
    at.run()
    no_exception(at)
    assert at.selectbox(key=state.VOCAB_FOCUS).value == "horse"


# ---------------------------------------------------------------- compare


def test_two_different_models_give_figures_between_0_and_1(
    tiny_bert_dir: Path, tiny_gpt2_dir: Path, texts: list[str]
) -> None:
    bert, gpt2 = str(tiny_bert_dir), str(tiny_gpt2_dir)
    at = run_compare(bert, texts, [bert, gpt2])
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    values = metric_values(at)
    (overlap,) = values["Mean 10-NN overlap"]
    (cka,) = values["Linear CKA"]
    (spearman,) = values["Distance rank correlation"]
    assert 0.0 <= overlap < 1.0
    assert 0.0 < cka < 1.0
    assert -1.0 <= spearman < 1.0
    assert chart_titles(at) == [bert, gpt2]  # one panel per model, side by side
    changed = at.dataframe[0].value
    assert len(changed) == compare_section.MOST_CHANGED
    assert changed["overlap"].is_monotonic_increasing
    # The tokenization of one text under each model, side by side.
    text = at.text_input(key=state.COMPARE_TOKEN_TEXT).value
    counts = [c.value for c in at.caption if c.value.endswith(" tokens")]
    assert counts == [f"{len(tokenize(text, m).tokens)} tokens" for m in (bert, gpt2)]


def test_a_model_against_itself_gives_1(texts: list[str]) -> None:
    at = run_compare(DEFAULT_MODEL, texts, [DEFAULT_MODEL, DEFAULT_ALIAS])
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    values = metric_values(at)
    assert values["Mean 10-NN overlap"] == [1.0]
    assert values["Linear CKA"] == [1.0]
    assert values["Distance rank correlation"] == [1.0]


def test_an_unknown_model_is_named_and_the_others_still_compare(
    tiny_bert_dir: Path, tiny_gpt2_dir: Path, texts: list[str]
) -> None:
    bert, gpt2, missing = str(tiny_bert_dir), str(tiny_gpt2_dir), "/no/such/model/folder"
    at = run_compare(bert, texts, [bert, missing, gpt2])
    no_exception(at)
    errors = [e.value for e in at.error]
    assert len(errors) >= 1 and all(missing in e for e in errors)
    assert len(metric_values(at)["Linear CKA"]) == 1  # bert vs gpt2 still compared
    assert chart_titles(at) == [bert, gpt2]


def test_variants_of_the_default_and_search(texts: list[str]) -> None:
    static, layer = f"{DEFAULT_MODEL}@static", f"{DEFAULT_MODEL}@layer3"
    at = run_compare(DEFAULT_MODEL, texts, [DEFAULT_MODEL, static, layer])
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    values = metric_values(at)
    assert len(values["Linear CKA"]) == 3  # three pairs
    for figures in values.values():
        assert all(-1.0 <= v <= 1.0 for v in figures)
    (compare_map,) = maps(at)
    assert [p["title"] for p in compare_map["header"]["panels"]] == [DEFAULT_MODEL, static, layer]
    assert compare_map["args"]["color_by"] == compare_section.OVERLAP_COLUMN
    assert compare_map["header"]["n"] == len(texts)


def test_fewer_than_two_models_does_not_compare(tiny_bert_dir: Path, texts: list[str]) -> None:
    at = AppTest.from_function(compare_page, args=(str(ROOT), str(tiny_bert_dir), texts), default_timeout=TIMEOUT)
    at.session_state[state.COMPARE_MODELS] = [str(tiny_bert_dir)]
    at.run()
    no_exception(at)
    assert next(b for b in at.button if b.label == "Compare").disabled
    assert any("at least two" in i.value for i in at.info)


# ---------------------------------------------------------------- in a real browser
# What AppTest cannot do: select points in one panel and see them marked in the other.

COMPARE_PAGE = """
import sys
sys.path.insert(0, {root!r})
import streamlit as st
from app import state
from app.sections.compare import render_compare
from embeddings.data import from_texts

st.set_page_config(layout="wide")
st.session_state.setdefault(state.COMPARE_MODELS, {specs!r})
render_compare(from_texts({texts!r}), {specs[0]!r})
"""
# Per panel of the compare map: points, ringed (selected) and bright (searched) points drawn.
JS_PANELS = """() => (window.__map && window.__map.data) ? window.__map.panels.map(p => ({
  points: p.n, rings: p.selCount, bright: p.brightCount})) : null"""


def _browser_or_skip() -> None:
    """Skip on a developer machine without Chromium/Playwright; in CI (CI set) that is a failure."""
    require(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require(False, "Playwright is not installed (pip install -e '.[test]')")


@pytest.mark.browser
@pytest.mark.slow
def test_selection_in_one_panel_marks_the_same_points_in_the_other(
    tiny_bert_dir: Path, tiny_gpt2_dir: Path, texts: list[str], tmp_path: Path
) -> None:
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    script = tmp_path / "compare_page.py"
    script.write_text(COMPARE_PAGE.format(root=str(ROOT), specs=[str(tiny_bert_dir), str(tiny_gpt2_dir)], texts=texts))
    with streamlit_server(script, tmp_path) as (url, log):
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1600})
                page.goto(url)
                button = page.get_by_role("button", name="Compare", exact=True)
                button.wait_for(timeout=TIMEOUT * 1000)
                button.click()
                iframe = page.wait_for_selector("iframe[title='app.components.map.point_map']", timeout=TIMEOUT * 1000)
                frame = iframe.content_frame()
                views = poll(page, lambda: frame.evaluate(JS_PANELS),
                             lambda v: len(v) == 2 and all(x["points"] == len(texts) for x in v), TIMEOUT, "views")
                assert [x["rings"] for x in views] == [0, 0]
                titles = frame.locator(".panel .title").all_inner_texts()
                assert titles == [str(tiny_bert_dir), str(tiny_gpt2_dir)]

                # Box-select most of the first panel: the same rows are ringed in both panels.
                frame.get_by_label("Box").check()
                area = frame.locator(".panel canvas").first.bounding_box()
                x0, y0 = area["x"] + area["width"] * 0.05, area["y"] + area["height"] * 0.05
                page.mouse.move(x0, y0)
                page.mouse.down()
                page.mouse.move(x0 + area["width"] * 0.5, y0 + area["height"] * 0.5, steps=5)
                page.mouse.move(x0 + area["width"] * 0.9, y0 + area["height"] * 0.9, steps=5)
                page.mouse.up()
                poll(page, lambda: frame.evaluate(JS_PANELS),
                     lambda v: v[0]["rings"] > 0 and v[1]["rings"] == v[0]["rings"], 30, "rings in both views")

                # A search lights up the same matches in both views.
                frame.get_by_label("Search", exact=True).fill("the")
                expected = sum("the" in t.lower() for t in texts)
                poll(page, lambda: frame.evaluate(JS_PANELS),
                     lambda v: v[0]["bright"] == v[1]["bright"] == expected, 30, "search in both views")
            finally:
                browser.close()
        assert "Traceback" not in log.read_text()
