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
from app.sections import compare as compare_section
from embeddings.encode import tokenize
from embeddings.models import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180  # seconds per script run: loading and encoding on a shared 2-core machine
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


def chart_figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def chart_titles(at: AppTest) -> list[str]:
    return [(f.get("layout", {}).get("title") or {}).get("text", "") for f in chart_figures(at)]


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
    figure = chart_figures(at)[0]
    assert {trace["name"] for trace in figure["data"]} == {"1: the cat sat", "2: the dog barked loudly"}


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


def test_vocabulary_search_and_word_list(tiny_bert_dir: Path) -> None:
    at = run_tokens(str(tiny_bert_dir))
    at.text_input(key=state.VOCAB_SEARCH).set_value("the").run()
    no_exception(at)
    assert any("tokens match" in c.value for c in at.caption)
    at.radio(key=state.VOCAB_SOURCE).set_value("My word list").run()
    at.text_area(key=state.VOCAB_WORDS).set_value("cat, dog, horse, bread").run()
    no_exception(at)
    assert not at.error
    at.selectbox(key=state.VOCAB_FOCUS).set_value("cat").run()
    no_exception(at)
    neighbours = at.dataframe[-1].value
    assert set(neighbours["token"]) == {"dog", "horse", "bread"}


def test_bad_regex_is_one_error_line(tiny_bert_dir: Path) -> None:
    at = run_tokens(str(tiny_bert_dir))
    at.checkbox(key=state.VOCAB_REGEX).check().run()
    at.text_input(key=state.VOCAB_SEARCH).set_value("([").run()
    no_exception(at)
    assert len(at.error) == 1


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
    assert chart_titles(at) == [bert, gpt2]  # one view per model, side by side
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
    at.text_input(key=state.COMPARE_SEARCH).set_value("onion").run()
    no_exception(at)
    assert any("rows match the search" in c.value for c in at.caption)


def test_fewer_than_two_models_does_not_compare(tiny_bert_dir: Path, texts: list[str]) -> None:
    at = AppTest.from_function(compare_page, args=(str(ROOT), str(tiny_bert_dir), texts), default_timeout=TIMEOUT)
    at.session_state[state.COMPARE_MODELS] = [str(tiny_bert_dir)]
    at.run()
    no_exception(at)
    assert next(b for b in at.button if b.label == "Compare").disabled
    assert any("at least two" in i.value for i in at.info)


# ---------------------------------------------------------------- in a real browser
# What AppTest cannot do: select points in one Plotly view and see them marked in the other.

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
# Per visible chart: points drawn (meta "points"), ringed (meta "overlay") and dimmed.
JS_VIEWS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).filter(el => el.checkVisibility())
  .map(gd => {
    const data = gd._fullData || [];
    const count = t => (t._length !== undefined && t._length !== null) ? t._length : (t.x ? t.x.length : 0);
    const sum = ts => ts.reduce((n, t) => n + count(t), 0);
    return {points: sum(data.filter(t => t.meta !== 'overlay')),
            rings: sum(data.filter(t => t.meta === 'overlay')),
            dimmed: sum(data.filter(t => t.name === 'other points'))};
  })"""
JS_IDLE = """() => !document.querySelector('[data-testid="stStatusWidgetRunningIcon"]')
  && !document.querySelector('[data-stale="true"]')"""


def _browser_or_skip() -> None:
    """Skip on a developer machine without Chromium/Playwright; in CI (CI set) that is a failure."""
    require(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require(False, "Playwright is not installed (pip install -e '.[test]')")


def _views(page, until, timeout_s: float = 120) -> list[dict]:
    def read():
        return page.evaluate(JS_VIEWS) if page.evaluate(JS_IDLE) else None

    return poll(page, read, until, timeout_s, "views")


@pytest.mark.browser
@pytest.mark.slow
def test_selection_in_one_view_marks_the_same_points_in_the_other(
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
                button.wait_for(timeout=60_000)
                button.click()
                views = _views(page, lambda v: len(v) == 2 and all(x["points"] == len(texts) for x in v))
                assert [x["rings"] for x in views] == [0, 0]

                # Box-select the middle of the first view: pick the modebar's box tool (a plain
                # drag pans, so that a click can select one point), then drag over the plot area.
                first_view = page.locator(".js-plotly-plot").first
                first_view.hover()
                first_view.locator('.modebar-btn[data-val="select"]').first.click(force=True)
                area = first_view.locator(".nsewdrag").first.bounding_box()
                x0, y0 = area["x"] + area["width"] * 0.1, area["y"] + area["height"] * 0.1
                page.mouse.move(x0, y0)
                page.mouse.down()
                page.mouse.move(x0 + area["width"] * 0.4, y0 + area["height"] * 0.4, steps=5)
                page.mouse.move(x0 + area["width"] * 0.8, y0 + area["height"] * 0.8, steps=5)
                page.mouse.up()
                # The same rows end up ringed in both views (each view redraws on its own).
                _views(page, lambda v: len(v) == 2 and v[0]["rings"] > 0 and v[1]["rings"] == v[0]["rings"])
                assert page.get_by_text("highlighted in every view").count() >= 1

                # A search dims the rest in both views.
                search = page.get_by_label("Search (highlights the matches in every view)")
                search.fill("the")
                search.press("Enter")
                _views(page, lambda v: len(v) == 2 and v[0]["dimmed"] > 0 and v[1]["dimmed"] == v[0]["dimmed"])
            finally:
                browser.close()
        assert "Traceback" not in log.read_text()
