"""python manage.py train [SPEC.json | --preset NAME] --dataset NAME [--epochs N] [--json]"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from playground.datasets import DatasetError, dataset_from_zip, dataset_load
from playground.export import model_save
from playground.limits import LIMITS
from playground.netspec import SpecError, build, spec_from_json
from playground.presets import PRESETS, preset
from playground.trainer import INITS, OPTIMIZERS, TrainConfig, TrainingDiverged, train
from webapp.tools import upload_limits


class Command(BaseCommand):
    help = "Train a playground net headless; with --json the last line is a JSON summary."

    def add_arguments(self, parser):
        parser.add_argument("spec", nargs="?", help="a spec JSON file (or use --preset)")
        parser.add_argument("--preset", choices=sorted(PRESETS))
        parser.add_argument(
            "--dataset", required=True, help="built-in name or a .zip of class folders"
        )
        parser.add_argument("--epochs", type=int, default=5)
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument("--lr", type=float, default=1e-3)
        parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
        parser.add_argument("--init", choices=INITS, default="default")
        parser.add_argument("--weight-decay", type=float, default=0.0)
        parser.add_argument("--max-samples", type=int, help="use at most this many samples")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--device", default="cpu")
        parser.add_argument("--save", type=Path, help="directory for model.pt + TorchScript")
        parser.add_argument("--json", action="store_true", help="end with one JSON line")

    def handle(self, *args, **opts):
        if bool(opts["spec"]) == bool(opts["preset"]):
            raise CommandError("give either a SPEC.json file or --preset NAME")
        try:
            if opts["dataset"].endswith(".zip"):
                data = dataset_from_zip(
                    Path(opts["dataset"]).read_bytes(),
                    seed=opts["seed"],
                    limits=upload_limits(**LIMITS.zip_counts()),
                )
            else:
                data = dataset_load(
                    opts["dataset"], seed=opts["seed"], max_samples=opts["max_samples"]
                )
            if opts["preset"]:
                spec = preset(opts["preset"], data.input_shape)
            else:
                spec = spec_from_json(Path(opts["spec"]).read_bytes())
            model = build(spec, data.input_shape, len(data.classes))
        except (DatasetError, SpecError, OSError) as exc:
            raise CommandError(str(exc)) from None
        config = TrainConfig.from_knobs(opts, device=opts["device"])
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
                )

        try:
            result = train(model, data, config, on_event=report)
        except (TrainingDiverged, SpecError) as exc:
            raise CommandError(str(exc)) from None
        if opts["save"]:
            for kind, path in model_save(model, data.classes, opts["save"]).items():
                self.stdout.write(f"saved {kind}: {path}")
        if opts["json"]:
            summary = {k: v for k, v in result.to_dict().items() if k != "history"}
            self.stdout.write(json.dumps(summary))
