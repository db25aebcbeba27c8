"""`embeddings finetune DATA --text-column COL --label-column LAB --out DIR`: a tuned model folder
and its before/after report."""

from __future__ import annotations

import argparse
from typing import Any

from embeddings.choices import DEFAULT_LOSS, DEFAULT_MODEL, LOSSES
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
    p.add_argument("--epochs", type=positive_int, default=1)
    p.add_argument("--test-size", type=float, default=0.2, help="share of texts held out, per class (default: 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, the batches and the initialisation")
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument("--loss", choices=LOSSES, default=DEFAULT_LOSS,
                   help="training loss: a triplet loss over batches grouped by label, or in-batch negatives "
                   "over same-label pairs (default: %(default)s, which measured best)")
    p.set_defaults(batch_size=16)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from embeddings.finetune import check_output, finetune

    check_output(args.out, args.overwrite)  # before reading anything: fail fast
    dataset = text_dataset(args)
    labels = label_values(dataset, args.label_column, args.data)
    progress = StageProgress({"base": "encoding (base model)", "train": "training (steps)",
                              "tuned": "encoding (tuned model)"}, args.quiet)
    try:
        result = finetune(
            dataset.texts, labels, args.out, model=model_spec(args), epochs=args.epochs, test_size=args.test_size,
            seed=args.seed, batch_size=args.batch_size, learning_rate=args.learning_rate, loss=args.loss,
            label_column=args.label_column, overwrite=args.overwrite, cache=not args.no_cache,
            progress=progress,
        )
    finally:
        progress.close()
    report = result.report
    for when in ("before", "after"):
        figures = report[when]
        silhouette = "n/a" if figures["silhouette"] is None else f"{figures['silhouette']:.3f}"
        info(f"{when:>6}: held-out k-NN accuracy (k={report['parameters']['knn_k']}) "
             f"{figures['knn_accuracy']:.3f}, silhouette {silhouette}", args)
    info(f"wrote {result.folder} ({report['split']['train']} texts trained, {report['split']['test']} held out, "
         f"{report['seconds']['train']:.1f} s training); load it with --model {result.folder}", args)
    return 0
