"""python manage.py train [SPEC.json | --preset NAME] --dataset NAME [--epochs N] [--json]
    [--task classify|localise|landmarks|segment|verify [--verify-loss triplet|pair]]
python manage.py train --from vgg19 --mode frozen|finetune|scratch --dataset NAME [--cut B]

A preset brings its own training settings (playground.presets.TRAINING: optimizer,
learning rate, batch, epochs, augmentation); options given here override them."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from playground.classfolders import UPLOAD
from playground.datasets import Augment, DatasetError
from playground.export import model_save
from playground.limits import LIMITS
from playground.management.commands._transfer import transfer_arguments, transfer_command
from playground.netspec import SpecError, build, spec_from_json
from playground.objectives import task_make
from playground.presets import PRESETS, TRAINING, preset, training
from playground.scenes import task_dataset
from playground.taskcatalogue import (
    SCENES,
    TASK_PRESETS,
    TASKS,
    TRIPLET_MINING,
    VERIFY_LOSSES,
    head_for,
)
from playground.trainer import INITS, OPTIMIZERS, TrainConfig, TrainingDiverged, train
from webapp.tools import upload_limits


class Command(BaseCommand):
    help = "Train a playground net headless; with --json the last line is a JSON summary."

    def add_arguments(self, parser):
        parser.add_argument("spec", nargs="?", help="a spec JSON file (or use --preset)")
        parser.add_argument("--preset", choices=sorted([*PRESETS, *TASK_PRESETS]))
        parser.add_argument(
            "--task",
            choices=TASKS,
            default="classify",
            help="what the net learns; tasks other than classify train on "
            f"their own datasets ({', '.join(SCENES)})",
        )
        parser.add_argument("--verify-loss", choices=VERIFY_LOSSES, default="triplet")
        parser.add_argument("--margin", type=float, default=0.2, help="the triplet loss's α")
        parser.add_argument(
            "--mining", choices=TRIPLET_MINING, default="all",
            help="the triplet loss's triplets: all valid ones, or batch-hard (one per anchor)",
        )  # fmt: skip
        parser.add_argument(
            "--dataset", required=True, help="built-in name or a .zip of class folders"
        )
        parser.add_argument("--epochs", type=int, help="default: the preset's, else 5")
        parser.add_argument("--batch-size", type=int, help="default: the preset's, else 64")
        parser.add_argument("--lr", type=float, help="default: the preset's, else 0.001")
        parser.add_argument("--optimizer", choices=OPTIMIZERS, help="default: the preset's")
        parser.add_argument(
            "--no-augment", action="store_true", help="leave out the preset's augmentation"
        )
        transfer_arguments(parser)
        parser.add_argument("--init", choices=INITS, default="default")
        parser.add_argument("--weight-decay", type=float, default=0.0)
        parser.add_argument("--max-samples", type=int, help="use at most this many samples")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--device", default="cpu")
        parser.add_argument("--save", type=Path, help="directory for model.pt + TorchScript")
        parser.add_argument("--json", action="store_true", help="end with one JSON line")

    def handle(self, *args, **opts):
        if opts["from_"]:
            return transfer_command(self, opts)
        if bool(opts["spec"]) == bool(opts["preset"]):
            raise CommandError("give either a SPEC.json file or --preset NAME")
        task_name = opts["task"]
        try:
            path = Path(opts["dataset"])
            data = task_dataset(
                task_name, UPLOAD if path.suffix == ".zip" else opts["dataset"],
                read_zip=path.read_bytes, zip_limits=upload_limits(**LIMITS.zip_counts()),
                seed=opts["seed"], max_samples=opts["max_samples"],
            )  # fmt: skip
            if opts["preset"] in TASK_PRESETS:
                spec = TASK_PRESETS[opts["preset"]][2](data.input_shape)
            elif opts["preset"]:
                spec = preset(opts["preset"], data.input_shape)
            else:
                spec = spec_from_json(Path(opts["spec"]).read_bytes())
            loss = opts["verify_loss"]
            task = task_make(task_name, side=data.input_shape[-1], loss=loss,
                             margin=opts["margin"], mining=opts["mining"])  # fmt: skip
            model = build(
                spec, data.input_shape, task.outputs(data.classes), head=head_for(task_name, loss)
            )
        except (DatasetError, SpecError, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        settings = training(opts["preset"], data.input_shape) if opts["preset"] in TRAINING else {}
        general = {"epochs": 5, "batch_size": 64, "lr": 1e-3, "optimizer": "adam"}
        for knob, value in general.items():
            if opts[knob] is None:
                opts[knob] = settings.get(knob, value)
        augment = {} if opts["no_augment"] else settings.get("augment", {})
        config = TrainConfig.from_knobs(
            opts,
            device=opts["device"],
            augment=Augment(**augment),
            schedule=settings.get("schedule", "constant"),
        )
        try:
            config.check()
        except ValueError as exc:
            raise CommandError(str(exc)) from None

        def report(event: dict) -> None:
            if event["type"] == "epoch":
                self.stdout.write(
                    "epoch {epoch}: train loss {train_loss:.4f} acc {train_accuracy:.3f} | "
                    "val loss {val_loss:.4f} acc {val_accuracy:.3f} | {seconds:.1f}s".format(
                        **event
                    )
                    + (
                        f" | {event['metric']} {event['val_metric']:.4f}"
                        if "metric" in event
                        else ""
                    )
                )

        try:
            result = train(model, data, config, on_event=report, task=task)
        except (TrainingDiverged, SpecError) as exc:
            raise CommandError(str(exc)) from None
        if opts["save"]:
            for kind, path in model_save(model, data.classes, opts["save"]).items():
                self.stdout.write(f"saved {kind}: {path}")
        if opts["json"]:
            summary = {k: v for k, v in result.to_dict().items() if k != "history"}
            last = result.history[-1]
            if "metric" in last:  # the task's headline metric, e.g. mean IoU
                summary.update(task=task_name, metric=last["metric"], val_metric=last["val_metric"])
            self.stdout.write(json.dumps(summary))
