"""Fine-tuning: the written folder, its report, the split, validation's choice, stopping, bad input.

Mechanics run on the tiny random BERT fixture (seconds); whether tuning helps a real model is
a benchmark figure (benchmarks/run.py, section `train`), not a unit test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import embeddings.finetune as finetune_module
from embeddings.cli import main
from embeddings.encode import Stopped, encode_texts
from embeddings.errors import InputError, ModelError
from embeddings.finetune import NO_GAIN, REPORT_NAME, check_labels, finetune, split, validation_split
from embeddings.models import fingerprint
from embeddings.probes import knn_accuracy

REPO = Path(__file__).resolve().parent.parent
SENTENCES = REPO / "sample_data" / "sentences.csv"


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    """48 sentences of 4 topics, 12 each."""
    frame = pd.read_csv(SENTENCES)
    frame = frame[frame["topic"].isin(["cooking", "football", "astronomy", "music"])]
    return frame.groupby("topic").head(12).reset_index(drop=True)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.slow
def test_written_folder_loads_with_bare_sentence_transformers_and_report_is_consistent(
    labelled: pd.DataFrame, tiny_bert_dir: Path, tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    texts, labels = labelled["text"].tolist(), labelled["topic"].tolist()
    steps: list[tuple[str, int, int]] = []
    out = tmp_path / "tuned"
    result = finetune(texts, labels, out, model=str(tiny_bert_dir), epochs=2, batch_size=8, seed=3,
                      loss="batch-hard-soft-margin", keep_tuned=True,
                      progress=lambda stage, done, total: steps.append((stage, done, total)))
    assert result.folder == out
    assert _leftovers(tmp_path) == ["cache", "tuned"]  # no temporary folder left beside it
    report = json.loads((out / REPORT_NAME).read_text())
    assert report == result.report

    split_ = report["split"]
    test_rows, validation_rows = split_["test_rows"], split_["validation_rows"]
    assert split_["train"] + split_["test"] == len(texts) and len(test_rows) == split_["test"] == 10
    assert split_["fit"] + split_["validation"] == split_["train"] and not set(test_rows) & set(validation_rows)
    held_out = [labels[i] for i in test_rows]
    assert sorted(set(held_out)) == sorted(set(labels))  # stratified: every class held out
    assert sorted({labels[i] for i in validation_rows}) == sorted(set(labels))  # and validated
    assert split_["seed"] == 3 and report["parameters"]["epochs"] == 2

    # one candidate, scored after every epoch it ran; the kept epoch is its best
    (run,) = report["candidates"]
    assert run["loss"] == "batch-hard-soft-margin" and 1 <= len(run["evaluations"]) <= 2
    accuracies = [e["validation_accuracy"] for e in run["evaluations"]]
    assert run["best_validation_accuracy"] == max(accuracies)
    assert run["best_epoch"] == run["evaluations"][accuracies.index(max(accuracies))]["epoch"]
    assert report["choice"]["kept"] == "tuned" and report["choice"]["epochs"] == run["best_epoch"]

    # every optimizer step's loss, in order; the progress saw every step
    train_steps = [done for stage, done, _ in steps if stage == "train"]
    assert [entry["step"] for entry in report["loss_per_step"]] == train_steps == list(range(1, len(train_steps) + 1))
    assert all(np.isfinite(entry["loss"]) for entry in report["loss_per_step"])
    # one learning-rate schedule over both epochs: warm-up, then down, with no restart at epoch 2
    rates = [entry["learning_rate"] for entry in report["loss_per_step"]]
    top = rates.index(max(rates))
    assert rates[: top + 1] == sorted(rates[: top + 1]) and rates[top:] == sorted(rates[top:], reverse=True)
    assert len({int(entry["epoch"] - 1e-9) for entry in report["loss_per_step"]}) == len(run["evaluations"])
    assert any(stage == "validate" for stage, _, _ in steps)

    # bare sentence-transformers reads the folder and gives the vectors the report measured
    bare = SentenceTransformer(str(out), device="cpu")
    vectors = bare.encode(texts, convert_to_numpy=True)
    train_rows = [i for i in range(len(texts)) if i not in set(test_rows)]
    accuracy = knn_accuracy(vectors[test_rows], held_out, reference_vectors=vectors[train_rows],
                            reference_labels=[labels[i] for i in train_rows], k=report["parameters"]["knn_k"])
    assert accuracy == pytest.approx(report["after"]["knn_accuracy"])
    base = encode_texts(texts, str(tiny_bert_dir)).vectors
    base_accuracy = knn_accuracy(base[test_rows], held_out, reference_vectors=base[train_rows],
                                 reference_labels=[labels[i] for i in train_rows], k=5)
    assert base_accuracy == pytest.approx(report["before"]["knn_accuracy"])
    assert not np.allclose(vectors, base, atol=1e-4)  # training changed the weights

    # fingerprinted like any local model, and its vectors are already cached: no encoding needed
    assert report["fingerprint"] == fingerprint(str(out))
    again = encode_texts(texts, str(out))
    assert again.cached == len(texts)
    np.testing.assert_allclose(again.vectors, vectors, atol=1e-5)


def _no_better_than_base(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every loss's every epoch validate worse than the base model (and change no weight)."""
    tried: list[str] = []

    def train_epoch(trainee, model, params, validate, progress, stop):  # noqa: ANN001
        tried.append(trainee.run.loss)
        return -1.0

    monkeypatch.setattr(finetune_module, "_train_epoch", train_epoch)
    return tried


def test_no_gain_on_validation_keeps_the_base_model_and_says_so(
    labelled: pd.DataFrame, tiny_bert_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    from sentence_transformers import SentenceTransformer

    tried = _no_better_than_base(monkeypatch)
    data = tmp_path / "data.csv"
    labelled.to_csv(data, index=False)
    out = tmp_path / "tuned"
    assert main(["finetune", str(data), "--label-column", "topic", "--out", str(out), "--model", str(tiny_bert_dir),
                 "--batch-size", "8"]) == 0
    err = capsys.readouterr().err
    assert tried[:2] == ["batch-hard-soft-margin", "in-batch-negatives"]  # auto: every candidate ...
    assert "cosine-pairs" not in tried  # ... and only those (cosine pairs is asked for by name)
    assert f"NOTE: {NO_GAIN}" in err and "the base model (unchanged)" in err
    report = json.loads((out / REPORT_NAME).read_text())
    assert report["choice"]["kept"] == "base" and not report["choice"]["improved"]
    assert report["verdict"].startswith(NO_GAIN) and report["after"] == report["before"]
    # the folder holds the base model: the same vectors as the base
    texts = labelled["text"].tolist()
    base = encode_texts(texts, str(tiny_bert_dir)).vectors
    np.testing.assert_allclose(SentenceTransformer(str(out), device="cpu").encode(texts), base, atol=1e-5)


def test_a_class_with_one_text_trains_and_is_not_held_out(labelled: pd.DataFrame, tiny_bert_dir: Path,
                                                           tmp_path: Path) -> None:
    texts = labelled["text"].tolist() + ["A lonely sentence about bisecting sorted lists."]
    labels = labelled["topic"].tolist() + ["bisect"]
    result = finetune(texts, labels, tmp_path / "tuned", model=str(tiny_bert_dir), batch_size=8,
                      loss="batch-hard-soft-margin", epochs=1)
    split_ = result.report["split"]
    lonely = len(texts) - 1
    assert split_["train_only_classes"] == 1 and split_["train_only_class_names"] == ["bisect"]
    assert lonely not in split_["test_rows"] and lonely not in split_["validation_rows"]
    assert result.report["classes"]["bisect"] == 1


def test_a_trailing_loss_stops_after_its_first_epoch_and_the_leaders_go_on(
    labelled: pd.DataFrame, tiny_bert_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # validation accuracy after each epoch, per loss: in-batch negatives trails far after its
    # first epoch; cosine pairs is within the margin of the leader, then overtakes it
    script = {"batch-hard-soft-margin": [0.90, 0.92, 0.93], "in-batch-negatives": [0.50, 0.99, 0.99],
              "cosine-pairs": [0.895, 0.96, 0.955]}
    tried: list[str] = []

    def train_epoch(trainee, model, params, validate, progress, stop):  # noqa: ANN001
        tried.append(trainee.run.loss)
        return script[trainee.run.loss][len(trainee.run.evaluations)]

    monkeypatch.setattr(finetune_module, "_train_epoch", train_epoch)
    # halving as it works for any number of candidates: three here
    monkeypatch.setattr(finetune_module, "LOSS_CANDIDATES", ("batch-hard-soft-margin", "in-batch-negatives", "cosine-pairs"))
    report = finetune(labelled["text"].tolist(), labelled["topic"].tolist(), tmp_path / "tuned",
                      model=str(tiny_bert_dir), batch_size=8, keep_tuned=True).report
    # round 1: every loss one epoch; then only the losses within the margin of the best go on
    assert tried == ["batch-hard-soft-margin", "in-batch-negatives", "cosine-pairs",
                     "batch-hard-soft-margin", "cosine-pairs", "cosine-pairs"]
    runs = {c["loss"]: c for c in report["candidates"]}
    assert [e["validation_accuracy"] for e in runs["in-batch-negatives"]["evaluations"]] == [0.50]
    assert runs["in-batch-negatives"]["stopped"].startswith("trailed the best loss by 0.400")
    assert [e["epoch"] for e in runs["batch-hard-soft-margin"]["evaluations"]] == [1, 2]
    assert runs["batch-hard-soft-margin"]["stopped"].startswith("trailed the best loss by 0.040")
    # the leader stops when an epoch brings no gain, and its best epoch is the one kept
    assert [e["epoch"] for e in runs["cosine-pairs"]["evaluations"]] == [1, 2, 3]
    assert runs["cosine-pairs"]["stopped"] is None and runs["cosine-pairs"]["best_epoch"] == 2
    choice = report["choice"]
    assert choice["loss"] == "cosine-pairs" and choice["epochs"] == 2 and choice["best_validation_accuracy"] == 0.96


def test_at_most_two_losses_go_on_after_the_first_epoch(
    labelled: pd.DataFrame, tiny_bert_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[str] = []

    def train_epoch(trainee, model, params, validate, progress, stop):  # noqa: ANN001
        tried.append(trainee.run.loss)
        return 0.9 + 0.01 * len(trainee.run.evaluations)  # all three level, each epoch better

    monkeypatch.setattr(finetune_module, "_train_epoch", train_epoch)
    # halving as it works for any number of candidates: three here
    monkeypatch.setattr(finetune_module, "LOSS_CANDIDATES", ("batch-hard-soft-margin", "in-batch-negatives", "cosine-pairs"))
    report = finetune(labelled["text"].tolist(), labelled["topic"].tolist(), tmp_path / "tuned",
                      model=str(tiny_bert_dir), batch_size=8, epochs=2, keep_tuned=True).report
    # a tie goes to the loss tried first
    assert tried == ["batch-hard-soft-margin", "in-batch-negatives", "cosine-pairs",
                     "batch-hard-soft-margin", "in-batch-negatives"]
    stopped = {c["loss"]: c["stopped"] for c in report["candidates"]}
    assert stopped["cosine-pairs"] == "not among the 2 best losses on validation after epoch 1"
    assert stopped["batch-hard-soft-margin"] is None and report["choice"]["loss"] == "batch-hard-soft-margin"


@pytest.mark.slow
def test_same_seed_same_split_and_losses(labelled: pd.DataFrame, tiny_bert_dir: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # the same torch threads for both runs (the machine's load may change between them, and one
    # thread or two sum floats in different orders)
    monkeypatch.setattr(finetune_module, "_others_load", lambda: 0.0)
    texts, labels = labelled["text"].tolist(), labelled["topic"].tolist()
    first = finetune(texts, labels, tmp_path / "a", model=str(tiny_bert_dir), batch_size=8, seed=1, epochs=2).report
    second = finetune(texts, labels, tmp_path / "b", model=str(tiny_bert_dir), batch_size=8, seed=1, epochs=2).report
    assert [c["evaluations"] for c in first["candidates"]] == [c["evaluations"] for c in second["candidates"]]
    assert first["choice"] == second["choice"]
    assert first["split"] == second["split"]
    assert [e["loss"] for e in first["loss_per_step"]] == pytest.approx([e["loss"] for e in second["loss_per_step"]])
    other = split(labels, 0.2, 2)[1]
    assert list(other) != first["split"]["test_rows"]


def test_stop_leaves_nothing_written(labelled: pd.DataFrame, tiny_bert_dir: Path, tmp_path: Path) -> None:
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 3  # during training, after the base encoding asked a few times

    with pytest.raises(Stopped):
        finetune(labelled["text"].tolist(), labelled["topic"].tolist(), tmp_path / "tuned",
                 model=str(tiny_bert_dir), batch_size=8, stop=stop, loss="batch-hard-soft-margin")
    assert _leftovers(tmp_path) == ["cache"]


@pytest.mark.slow
def test_overwrite_replaces_only_after_success(labelled: pd.DataFrame, tiny_bert_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "tuned"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    texts, labels = labelled["text"].tolist(), labelled["topic"].tolist()
    with pytest.raises(InputError, match="exists; choose another folder, or replace it"):
        finetune(texts, labels, out, model=str(tiny_bert_dir), batch_size=8)
    with pytest.raises(Stopped):
        finetune(texts, labels, out, model=str(tiny_bert_dir), batch_size=8, overwrite=True, stop=lambda: True)
    assert (out / "keep.txt").read_text() == "mine"  # a failed run keeps the old folder
    finetune(texts, labels, out, model=str(tiny_bert_dir), batch_size=8, overwrite=True, epochs=1,
             loss="batch-hard-soft-margin")
    assert not (out / "keep.txt").exists() and (out / REPORT_NAME).is_file()
    assert _leftovers(tmp_path) == ["cache", "tuned"]


# ---------------------------------------------------------------- bad input


def test_label_checks_name_the_problem() -> None:
    with pytest.raises(InputError, match="column 'topic': has one class"):
        check_labels(["a", "b", "c"], ["x", "x", "x"], "topic")
    # a class with a single text is fine: it trains and is not held out
    assert check_labels(["a", "b", "c", "d", "e"], ["x", "x", "lonely", "y", "y"], "topic")[2] == "lonely"
    with pytest.raises(InputError, match="fewer than 2 classes have 2 or more texts"):
        check_labels(["a", "b", "c", "d"], ["x", "p", "x", "q"], "topic")
    with pytest.raises(InputError, match="row 2, column 'topic': no label"):
        check_labels(["a", "b", "c"], ["x", float("nan"), "y"], "topic")
    with pytest.raises(InputError, match="test size must be a fraction"):
        split(["a", "a", "b", "b"], 1.5, 0)


def test_split_holds_out_every_class_it_can_and_never_a_single_text() -> None:
    # too few held-out texts for scikit-learn's stratified split: class by class instead
    labels = ["a", "a", "b", "b", "c", "c", "d"]
    train, test = split(labels, 0.1, 0)
    assert sorted(labels[i] for i in test) == ["a", "b", "c"] and 6 in train
    assert sorted(np.concatenate([train, test])) == list(range(7))
    # the validation share comes from the training rows, class by class, and keeps one of each to fit on
    labels = ["a"] * 10 + ["b"] * 10 + ["c"] * 2 + ["d"]
    train, test = split(labels, 0.2, 0)
    fit, validation = validation_split(labels, train, 0.2, 0)
    assert not set(validation) & set(test) and sorted(np.concatenate([fit, validation])) == sorted(train)
    assert sorted({labels[i] for i in validation}) == ["a", "b"] and 22 in fit  # c and d keep their one text


def test_classes_of_two_texts_leave_no_pairs_to_train_on(tmp_path: Path) -> None:
    texts = [f"text number {i}" for i in range(6)]
    with pytest.raises(InputError, match="0 class\\(es\\) keep 2 or more training texts"):
        finetune(texts, ["a", "a", "b", "b", "c", "c"], tmp_path / "out", test_size=0.5, loss="batch-hard-soft-margin")
    assert not (tmp_path / "out").exists()


def test_models_that_cannot_be_trained(labelled: pd.DataFrame, tiny_bert_dir: Path, tmp_path: Path) -> None:
    texts, labels = labelled["text"].tolist(), labelled["topic"].tolist()
    with pytest.raises(ModelError, match="variant"):
        finetune(texts, labels, tmp_path / "a", model=f"{tiny_bert_dir}@layer1")
    no_tokenizer = tmp_path / "no-tokenizer"
    no_tokenizer.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_bert_dir / name, no_tokenizer / name)
    with pytest.raises(ModelError, match="no-tokenizer"):
        finetune(texts, labels, tmp_path / "b", model=str(no_tokenizer))
    remote = tmp_path / "remote-code"
    shutil.copytree(tiny_bert_dir, remote)
    config = json.loads((remote / "config.json").read_text())
    config.update({"model_type": "custom-bert", "auto_map": {"AutoConfig": "configuration.CustomConfig",
                                                              "AutoModel": "modeling.CustomModel"}})
    (remote / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="own Python code"):
        finetune(texts, labels, tmp_path / "c", model=str(remote))
    assert [p for p in _leftovers(tmp_path) if p != "cache"] == ["no-tokenizer", "remote-code"]


def _cli_error(capsys: pytest.CaptureFixture, *args: str) -> str:
    assert main([str(a) for a in args]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_cli_bad_input_is_one_line(labelled: pd.DataFrame, tiny_bert_dir: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "data.csv"
    labelled.to_csv(data, index=False)
    model = str(tiny_bert_dir)
    line = _cli_error(capsys, "finetune", data, "--label-column", "nope", "--out", tmp_path / "o", "--model", model)
    assert "no column 'nope'" in line and "topic" in line
    one_class = tmp_path / "one.csv"
    labelled.assign(topic="same").to_csv(one_class, index=False)
    assert "has one class" in _cli_error(capsys, "finetune", one_class, "--label-column", "topic",
                                         "--out", tmp_path / "o", "--model", model)
    assert "validation size must be a fraction" in _cli_error(
        capsys, "finetune", data, "--label-column", "topic", "--out", tmp_path / "o", "--model", model,
        "--validation-size", "2")
    (tmp_path / "exists").mkdir()
    assert "exists" in _cli_error(capsys, "finetune", data, "--label-column", "topic", "--out", tmp_path / "exists",
                                  "--model", model)
    assert not (tmp_path / "o").exists()


def test_cli_writes_model_and_prints_before_and_after(labelled: pd.DataFrame, tiny_bert_dir: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "data.csv"
    labelled.to_csv(data, index=False)
    out = tmp_path / "tuned"
    assert main(["finetune", str(data), "--label-column", "topic", "--out", str(out), "--model", str(tiny_bert_dir),
                 "--batch-size", "8", "--seed", "2", "--epochs", "1", "--loss", "in-batch-negatives"]) == 0
    err = capsys.readouterr().err
    assert "before: held-out k-NN accuracy" in err and "after: held-out k-NN accuracy" in err
    assert "in-batch-negatives: validation 5-NN accuracy by epoch" in err
    report = json.loads((out / REPORT_NAME).read_text())
    assert report["label_column"] == "topic" and report["split"]["seed"] == 2
    assert report["parameters"]["batch_size"] == 8
    assert report["verdict"] in err
