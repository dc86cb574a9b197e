"""`manage.py train --from vgg19 --mode frozen|finetune|scratch`: the transfer-learning
half of the train command (playground/transfer.py from the command line)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from playground.datasets import DatasetError, dataset_load
from playground.transfer.engine import (
    BACKBONES,
    MODES,
    TransferConfig,
    TransferError,
    per_class_subset,
    transfer_build,
    transfer_save,
    transfer_summary,
    transfer_train,
)
from webapp.modelfiles import ModelFileError


def transfer_arguments(parser) -> None:
    group = parser.add_argument_group("transfer learning (--from)")
    group.add_argument(
        "--from",
        dest="from_",
        choices=BACKBONES,
        help="start from this ImageNet net instead of a spec or preset",
    )
    group.add_argument(
        "--mode",
        choices=MODES,
        default="frozen",
        help="scratch: random weights; frozen: only a new head trains; "
        "finetune: the last block(s) too, at a smaller learning rate",
    )
    group.add_argument(
        "--cut", type=int, default=TransferConfig.cut, help="keep VGG19's blocks 1..CUT"
    )
    group.add_argument("--image-size", type=int, default=TransferConfig.image_size)
    group.add_argument("--finetune-blocks", type=int, default=TransferConfig.finetune_blocks)
    group.add_argument("--per-class", type=int, help="train on this many pictures per class")


def transfer_command(command: BaseCommand, opts: dict) -> None:
    if opts["spec"] or opts["preset"]:
        raise CommandError("--from replaces a spec or preset: give only one of them")
    if opts["dataset"].endswith(".zip"):
        raise CommandError("--from trains on a built-in dataset from the command line")
    defaults = TransferConfig()
    config = TransferConfig(
        mode=opts["mode"],
        cut=opts["cut"],
        image_size=opts["image_size"],
        finetune_blocks=opts["finetune_blocks"],
        lr=opts["lr"] or defaults.lr,
        batch_size=opts["batch_size"] or defaults.batch_size,
        epochs=opts["epochs"] or defaults.epochs,
        weight_decay=opts["weight_decay"],
        seed=opts["seed"],
        device=opts["device"],
    )
    try:
        data = dataset_load(opts["dataset"], seed=opts["seed"], max_samples=opts["max_samples"])
        if opts["per_class"]:
            data = per_class_subset(data, opts["per_class"], opts["seed"])
        net = transfer_build(config, len(data.classes), input_channels=data.input_shape[0])
    except (DatasetError, TransferError, ModelFileError) as exc:
        raise CommandError(str(exc)) from None
    out = command.stdout
    table = transfer_summary(net)
    out.write(f"VGG19 cut after block {config.cut}, mode {config.mode}:")
    for row in table["rows"]:
        state = "frozen" if row["frozen"] else "trains" if row["trainable"] else ""
        shape = "×".join(map(str, row["output_shape"]))
        out.write(f"  {row['name']:<40} {shape:>12} {row['params']:>10,} {state}")
    out.write(f"  parameters: {table['total_params']:,}, of which train: "
              f"{table['trainable_params']:,}")  # fmt: skip

    def report(row: dict) -> None:  # the loops' "epoch" event (playground/loop.py)
        out.write(
            "epoch {epoch}: train loss {train_loss:.4f} acc {train_accuracy:.3f} | "
            "val loss {val_loss:.4f} acc {val_accuracy:.3f} | {seconds:.1f}s".format(**row)
        )

    try:
        result = transfer_train(net, data, on_event=report)
    except TransferError as exc:
        raise CommandError(str(exc)) from None
    if opts["save"]:
        for kind, path in transfer_save(net, data.classes, Path(opts["save"])).items():
            out.write(f"saved {kind}: {path}")
    if opts["json"]:
        summary = {k: v for k, v in result.to_dict().items() if k != "history"}
        out.write(json.dumps({**summary, "config": asdict(config)}))
