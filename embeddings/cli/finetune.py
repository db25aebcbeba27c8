"""`embeddings finetune DATA --text-column COL --label-column LAB --out DIR`: a tuned model folder
and its before/after report."""

from __future__ import annotations

import argparse
from typing import Any

from embeddings.choices import AUTO_LOSS, DEFAULT_EPOCHS, DEFAULT_LOSS, DEFAULT_MODEL, LOSS_CANDIDATES, LOSSES
from embeddings.cli.common import (
    StageProgress, add_common_arguments, info, label_values, model_spec, positive_int, text_dataset,
)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("finetune", help="fine-tune a model on labelled texts; writes a model folder and a report")
    add_common_arguments(p, level=False)
    p.set_defaults(level="text", layer=-1, processes=1)
    p.add_argument("--label-column", required=True, help="column holding each text's label (class)")
    p.add_argument("--out", required=True, help="output folder for the tuned model (must not exist)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (only once training succeeded)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="model to start from (default: %(default)s)")
    p.add_argument("--epochs", type=positive_int, default=DEFAULT_EPOCHS,
                   help="at most this many epochs per loss; validation picks the best (default: %(default)s)")
    p.add_argument("--test-size", type=float, default=0.2, help="share of texts held out, per class (default: 0.2)")
    p.add_argument("--validation-size", type=float, default=0.2,
                   help="share of the training texts that chooses the loss and the epoch (default: 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, the batches and the initialisation")
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument("--loss", choices=(AUTO_LOSS, *LOSSES), default=DEFAULT_LOSS,
                   help=f"training loss; {AUTO_LOSS} tries {', '.join(LOSS_CANDIDATES)} and keeps the one that "
                   "validates best (default: %(default)s)")
    p.add_argument("--keep-tuned", action="store_true",
                   help="write the tuned model even when it does not beat the base model on validation "
                   "(by default the base model is kept then, and the report says so)")
    p.set_defaults(batch_size=16)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from embeddings.finetune import check_output, finetune

    check_output(args.out, args.overwrite)  # before reading anything: fail fast
    dataset = text_dataset(args)
    labels = label_values(dataset, args.label_column, args.data)
    progress = StageProgress({"base": "encoding (base model)", "train": "training (steps, per loss)",
                              "validate": "validating (encoding the training texts)",
                              "tuned": "encoding (tuned model)"}, args.quiet)
    try:
        result = finetune(
            dataset.texts, labels, args.out, model=model_spec(args), epochs=args.epochs, test_size=args.test_size,
            validation_size=args.validation_size, seed=args.seed, batch_size=args.batch_size,
            learning_rate=args.learning_rate, loss=args.loss, keep_tuned=args.keep_tuned,
            label_column=args.label_column, overwrite=args.overwrite, cache=not args.no_cache,
            progress=progress,
        )
    finally:
        progress.close()
    report = result.report
    k = report["parameters"]["knn_k"]
    for candidate in report["candidates"]:
        curve = ", ".join(f"{e['validation_accuracy']:.3f}" for e in candidate["evaluations"])
        stopped = f" (stopped: {candidate['stopped']})" if candidate.get("stopped") else ""
        info(f"  {candidate['loss']}: " + (f"skipped ({candidate['skipped']})" if candidate["skipped"] else
                                           f"validation {k}-NN accuracy by epoch {curve}{stopped}"), args)
    info(("" if result.improved else "NOTE: ") + report["verdict"], args)
    for when in ("before", "after"):
        figures = report[when]
        silhouette = "n/a" if figures["silhouette"] is None else f"{figures['silhouette']:.3f}"
        info(f"{when:>6}: held-out k-NN accuracy (k={k}) {figures['knn_accuracy']:.3f}, silhouette {silhouette}", args)
    split = report["split"]
    single = split["train_only_classes"]
    single = f", {single} single-text class(es) trained only" if single else ""
    what = "tuned model" if report["choice"]["kept"] == "tuned" else "base model (unchanged)"
    info(f"wrote {result.folder}: the {what} ({split['fit']} texts trained, {split['validation']} validated, "
         f"{split['test']} held out{single}; {report['seconds']['train']:.1f} s training); "
         f"load it with --model {result.folder}", args)
    return 0
