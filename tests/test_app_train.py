"""The Fine-tune and Layers tabs through AppTest, on the tiny BERT fixture (the sample sentences).

Fine-tuning ends in the Compare models tab showing base against tuned; the layer walk draws
one animation frame per layer with a slider, and the per-layer figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import state
from embeddings.mapdata import PALETTE, unpack_map_data

APP = str(Path(__file__).resolve().parent.parent / "app" / "main.py")
TIMEOUT = 600  # seconds per script run: a hang guard on a shared, loaded machine


def _start(model: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.MODEL] = model  # before the first run: the sample is encoded once, with it
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _tab(at: AppTest, label: str):
    return next(tab for tab in at.tabs if tab.label == label)


@pytest.mark.slow
def test_finetune_opens_base_against_tuned_in_compare(tiny_bert_dir: Path, tmp_path: Path) -> None:
    at = _start(str(tiny_bert_dir))
    out = tmp_path / "tuned"
    at.text_input(key=state.FINETUNE_OUT).input(str(out)).run()
    assert at.selectbox(key=state.FINETUNE_LABEL).value == "topic"
    at.number_input(key=state.FINETUNE_EPOCHS).set_value(1).run()
    at.selectbox(key=state.FINETUNE_LOSS).set_value("in-batch-negatives").run()  # one loss: "auto" below
    at.checkbox(key=state.FINETUNE_KEEP_TUNED).check().run()  # a random tiny model may not beat its base
    at.button(key=state.FINETUNE_START).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    report = json.loads((out / "finetune_report.json").read_text())
    assert report["choice"]["kept"] == "tuned" and [c["loss"] for c in report["candidates"]] == ["in-batch-negatives"]
    assert at.session_state[state.TAB] == "Compare models"
    assert at.multiselect(key=state.COMPARE_MODELS).value == [str(tiny_bert_dir), str(out)]
    compare = _tab(at, "Compare models")
    labels = [m.label for m in compare.metric]
    assert any("NN overlap" in label for label in labels), labels
    (compare_map,) = compare.get("component_instance")  # base and tuned, side by side: one panel each
    args = json.loads(compare_map.proto.json_args)
    header, _ = unpack_map_data(at.session_state[state.MAP_PAYLOADS][args["key"]][1])
    assert [panel["title"] for panel in header["panels"]] == [str(tiny_bert_dir), str(out)]
    tab = _tab(at, "Fine-tune")
    shown = {m.label: m.value for m in tab.metric}
    assert shown["Held-out 5-NN accuracy"] == f"{report['after']['knn_accuracy']:.3f}"
    said = [m.value for m in tab.success] + [m.value for m in tab.warning]
    assert any(report["verdict"][1:] in text for text in said), said  # the first letter may be capitalised
    table = tab.dataframe[0].value
    assert list(table["model"]) == ["base (no training)", "in-batch-negatives"]
    assert table["kept"].sum() == 1
    # the same folder again: one error line, the first model untouched
    at.button(key=state.FINETUNE_START).click().run()
    assert [e.value for e in at.error] and "exists" in at.error[0].value
    # one wording, the app's: no command-line flag where the page has a checkbox ("Replace the folder")
    assert "replace it" in at.error[0].value and "--" not in at.error[0].value
    assert json.loads((out / "finetune_report.json").read_text()) == report


def test_finetune_without_a_gain_says_so_and_keeps_the_base(tiny_bert_dir: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import embeddings.finetune as finetune_module

    def no_better(trainee, model, params, validate, progress, stop):  # noqa: ANN001
        return -1.0  # every epoch of every loss validates worse than the base model

    monkeypatch.setattr(finetune_module, "_train_epoch", no_better)
    at = _start(str(tiny_bert_dir))
    out = tmp_path / "tuned"
    at.text_input(key=state.FINETUNE_OUT).input(str(out)).run()
    at.button(key=state.FINETUNE_START).click().run()
    assert not at.exception, [e.value for e in at.exception]
    report = json.loads((out / "finetune_report.json").read_text())
    assert report["choice"]["kept"] == "base" and len(report["candidates"]) == 2  # auto: both candidate losses tried
    assert state.TAB not in at.session_state or at.session_state[state.TAB] != "Compare models"  # nothing to compare
    tab = _tab(at, "Fine-tune")
    warnings = [w.value for w in tab.warning]
    assert any(w.startswith("No gain on validation; the base model is better for this data") for w in warnings), warnings
    assert not tab.success
    assert {m.label: m.value for m in tab.metric}["Held-out 5-NN accuracy"] == f"{report['before']['knn_accuracy']:.3f}"


def test_layers_tab_animates_every_layer(tiny_bert_dir: Path) -> None:
    at = _start(str(tiny_bert_dir))
    at.selectbox(key=state.LAYERS_LABEL).set_value("topic").run()
    at.button(key=state.LAYERS_START).click().run()
    assert not at.exception, [e.value for e in at.exception]
    tab = _tab(at, "Layers")
    spec = json.loads(tab.get("plotly_chart")[0].proto.spec)
    assert [frame["name"] for frame in spec["frames"]] == ["0", "1", "2"]
    assert [step["label"] for step in spec["layout"]["sliders"][0]["steps"]] == ["0", "1", "2"]
    points = sum(len(trace["ids"]) for trace in spec["frames"][0]["data"])
    assert points == 300  # every sample sentence at every layer, one trace per topic
    assert len(spec["frames"][0]["data"]) == 10 == len(spec["data"])
    assert [trace["name"] for trace in spec["data"]] == sorted(set(trace["name"] for trace in spec["data"]))
    assert [trace["marker"]["color"] for trace in spec["data"]] == list(PALETTE[:10])  # Explore's colours
    assert "text" in spec["data"][0] and "text" not in spec["frames"][0]["data"][0]  # hover sent once
    table = tab.dataframe[0].value
    assert list(table.index) == [0, 1, 2] and table.iloc[-1, 0] == 1.0  # overlap of the last with itself


def test_layers_tab_follows_a_word() -> None:
    """With the bundled model (its vocabulary has 'bank'): three short texts."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.SOURCE] = "Paste texts"
    at.session_state[state.PASTE] = "The river bank was muddy.\nThe bank raised its rates.\nA bank loan."
    at.run()
    at.radio(key=state.LAYERS_LEVEL).set_value("token").run()
    at.button(key=state.LAYERS_START).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key=state.LAYERS_WORD).value == "bank"
    tab = _tab(at, "Layers")
    spec = json.loads(tab.get("plotly_chart")[0].proto.spec)
    marked = [number for number, trace in enumerate(spec["data"]) if trace["name"] == "the word"]
    assert len(marked) == 1  # the three occurrences, drawn apart, in every frame
    assert all(len(frame["data"][marked[0]]["ids"]) == 3 for frame in spec["frames"])
    assert "spread of the word's occurrences (mean cosine distance)" in tab.dataframe[0].value.columns


def test_the_layers_map_colours_a_column_as_the_explore_map_does() -> None:
    """48 modules: the 19 largest in the map's own colours, slot for slot, the rest grey "other"
    (the Layers tab drew no colour at all above 20 values, and another palette below)."""
    import numpy as np
    import pandas as pd

    from app.sections.layers import colour_groups
    from embeddings.mapdata import OTHER_SLOT, pack_map_data

    groups = [f"mod{i:02d}" for i in range(48) for _ in range(1 + (i % 7))]
    legend = colour_groups(groups)
    assert len(legend) == 20 and legend[-1][:2] == ("other", PALETTE[OTHER_SLOT])
    header, arrays = unpack_map_data(pack_map_data(np.zeros((len(groups), 2)), pd.DataFrame({"module": groups})))
    explore = dict(zip(arrays["module/values"], arrays["module/slots"].tolist()))
    for name, colour, rows in legend[:-1]:
        assert colour == PALETTE[explore[name]], name
        assert all(groups[r] == name for r in rows)
    assert sum(len(rows) for _, _, rows in legend) == len(groups)
