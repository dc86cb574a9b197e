"""`python manage.py detect IMAGE [IMAGE ...]`: YOLO detection from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from PIL import Image

from detection.annotate import annotate
from detection.modelcard import DEFAULT_MODEL, MODELS
from detection.services import model_installed, model_label
from detection.thresholds import parse_class_conf
from detection.yolo import Detection, Detector
from webapp.modelfiles import ModelFileError, model_path
from webapp.pictures import UploadError, UploadLimits, probe_upload, read_bytes, read_upload


class Command(BaseCommand):
    help = "Detect objects in pictures with a YOLO model (COCO); print or draw the boxes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("images", nargs="*", type=Path, help="pictures (or zips of them)")
        parser.add_argument(
            "--model",
            default=DEFAULT_MODEL,
            choices=list(MODELS),
            help=f"the network (default {DEFAULT_MODEL}); --list-models describes them",
        )
        parser.add_argument(
            "--list-models", action="store_true", help="list the models and whether installed"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON list per image")
        parser.add_argument("--conf", type=float, default=0.25, help="lowest score kept")
        parser.add_argument("--iou", type=float, default=0.45, help="NMS overlap threshold")
        parser.add_argument("--classes", default="", help="comma-separated class names to keep")
        parser.add_argument(
            "--class-conf",
            default="",
            help="a class's own lowest score instead of --conf, e.g. cup=0.5,person=0.3",
        )
        parser.add_argument("--out-dir", type=Path, help="write annotated pictures here")
        parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda")

    def handle(self, *args, **opts) -> None:
        if opts["list_models"]:
            for key, card in MODELS.items():
                missing = model_installed(card) and " (not installed: run `manage.py fetch_models`)"
                self.stdout.write(f"{key:<12} {model_label(card)}{missing or ''}")
            return
        if not opts["images"]:
            raise CommandError("give at least one picture (or --list-models)")
        card = MODELS[opts["model"]]
        try:
            detector = Detector.from_files(
                model_path(card.cfg),
                model_path(card.weights),
                model_path(card.names),
                device=opts["device"],
            )
        except ModelFileError as exc:
            raise CommandError(str(exc)) from exc
        classes = [c.strip() for c in opts["classes"].split(",") if c.strip()] or None
        try:
            detector.class_ids(classes or [])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            class_conf = parse_class_conf(opts["class_conf"], detector.class_names)
        except ValueError as exc:
            raise CommandError(f"--class-conf: {exc}") from exc
        limits = UploadLimits.from_settings(settings)
        files = []
        for path in opts["images"]:  # every file checked from its headers before any output
            try:
                with open(path, "rb") as fh:
                    data = read_bytes(fh, str(path), limits)
                probe_upload(data, str(path), limits)
            except (OSError, UploadError) as exc:
                raise CommandError(str(exc)) from exc
            files.append((str(path), data))
        for name, data in files:
            try:
                for picture in read_upload(data, name, limits):  # one decoded at a time
                    found = detector.detect(
                        [picture.image], opts["conf"], opts["iou"], classes, class_conf=class_conf
                    )
                    self.show(picture.name, picture.image, found[0], opts)
            except UploadError as exc:
                raise CommandError(str(exc)) from exc

    def show(self, name: str, image: Image.Image, found: list[Detection], opts: dict) -> None:
        """Print one picture's detections (and draw them when --out-dir is given)."""
        if opts["json"]:
            items = [{k: v for k, v in d.to_dict().items() if k != "class_id"} for d in found]
            self.stdout.write(json.dumps(items))
        else:
            self.stdout.write(f"{name}: {len(found)} found")
            for d in found:
                box = ", ".join(f"{v:.0f}" for v in d.box)
                self.stdout.write(f"  {d.class_name:<14} {d.score:.2f}  [{box}]")
        if opts["out_dir"]:
            opts["out_dir"].mkdir(parents=True, exist_ok=True)
            target = opts["out_dir"] / (Path(name).stem + ".detected.png")
            annotate(image, found).save(target)
