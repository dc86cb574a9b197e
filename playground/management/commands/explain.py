"""python manage.py explain RUN_OR_MODEL PICTURE [--class N|NAME] [--layer NAME] [--out DIR]
python manage.py explain RUN_OR_MODEL --unit LAYER:CHANNEL [--size 128]   (no picture)

RUN_OR_MODEL: a run's id (its trained model), a model.pt file, or `vgg19` (ImageNet
trunk; units only, e.g. --unit relu4_1:10). Writes gradcam.png and saliency.png (the
picture with the map laid over it), or unit.png (activation maximisation)."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from playground.explain.engine import (
    ExplainError,
    grad_cam,
    layer_forward,
    maximize_unit,
    overlay_png,
    picture_tensor,
    png_bytes,
)
from playground.export import model_file_load
from webapp.modelfiles import ModelFileError
from webapp.pictures import UploadError, read_picture
from webapp.tools import upload_limits


class Command(BaseCommand):
    help = "Grad-CAM and saliency of a trained net on a picture, or the picture a unit wants."

    def add_arguments(self, parser):
        parser.add_argument("model", help="a run id, a model.pt file, or vgg19")
        parser.add_argument("picture", nargs="?", type=Path)
        parser.add_argument(
            "--class", dest="target", help="class index or name (default: predicted)"
        )
        parser.add_argument("--layer", help="Grad-CAM's layer (default: the deepest feature map)")
        parser.add_argument("--unit", help="LAYER:CHANNEL for activation maximisation")
        parser.add_argument("--size", type=int, default=128, help="activation maximisation's side")
        parser.add_argument("--steps", type=int, default=256)
        parser.add_argument("--device", default="cpu")
        parser.add_argument("--out", type=Path, default=Path("."))

    def handle(self, *args, **opts):
        if not opts["picture"] and not opts["unit"]:
            raise CommandError("give a PICTURE to explain, or --unit LAYER:CHANNEL")
        try:
            if opts["model"] == "vgg19":
                if not opts["unit"]:
                    raise CommandError("vgg19 has no classes here: use --unit relu4_1:10")
                return self._vgg_unit(opts)
            model, info = model_file_load(self._model_file(opts["model"]))
            classes, shape = info.classes, info.input_shape
            opts["out"].mkdir(parents=True, exist_ok=True)
            if opts["unit"]:
                layer, channel = self._unit(opts["unit"])
                forward = layer_forward(model, layer, shape)
                return self._maximize(forward, channel, shape[0], opts)
            picture = self._picture(opts["picture"])
            target = self._target(opts["target"], classes)
            explanation = grad_cam(model, picture_tensor(picture, shape), target, opts["layer"])
        except (ExplainError, ModelFileError, OSError, KeyError) as exc:
            raise CommandError(str(exc)) from None
        x = picture_tensor(picture, shape)
        scale = max(1, 256 // max(shape[1:]))
        for name, heat in (("gradcam", explanation.cam), ("saliency", explanation.saliency)):
            path = opts["out"] / f"{name}.png"
            path.write_bytes(overlay_png(x, heat, scale=scale))
            self.stdout.write(f"wrote {path}")
        top = sorted(enumerate(explanation.probabilities), key=lambda p: -p[1])[:3]
        self.stdout.write(
            f"predicted {classes[explanation.predicted]}; explained {classes[explanation.target]} "
            f"at layer {explanation.layer}; " + ", ".join(f"{classes[i]} {p:.1%}" for i, p in top)
        )

    def _model_file(self, name: str):
        try:
            run = uuid.UUID(name)
        except ValueError:
            return Path(name)
        from django.core.files.storage import default_storage

        from webapp.models import Job

        job = Job.objects.filter(pk=run).first()
        path = f"{job.storage_prefix}/model.pt" if job else None
        if not path or not default_storage.exists(path):
            raise CommandError(f"run {name} has no trained model")
        with default_storage.open(path, "rb") as fh:
            return io.BytesIO(fh.read())

    def _picture(self, path: Path):
        limits = upload_limits()
        try:
            return read_picture(path.read_bytes(), path.name, limits).image
        except UploadError as exc:
            raise CommandError(str(exc)) from None

    def _target(self, given: str | None, classes: list[str]) -> int | None:
        if given is None:
            return None
        if given in classes:
            return classes.index(given)
        if given.isdigit():
            return int(given)
        raise CommandError(f"unknown class {given!r}; classes: {', '.join(classes)}")

    def _unit(self, text: str) -> tuple[str, int]:
        layer, _, channel = text.rpartition(":")
        if not layer or not channel.isdigit():
            raise CommandError("--unit is LAYER:CHANNEL, e.g. relu4_1:10")
        return layer, int(channel)

    def _vgg_unit(self, opts) -> None:
        from styletransfer.vgg import load_vgg19
        from webapp.modelfiles import model_path

        layer, channel = self._unit(opts["unit"])
        try:
            vgg = load_vgg19(model_path("vgg19_caffe_q.bin"), last_layer=layer).to(opts["device"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        opts["out"].mkdir(parents=True, exist_ok=True)
        return self._maximize(lambda p: vgg(p, (layer,))[layer], channel, 3, opts)

    def _maximize(self, forward, channel: int, channels: int, opts) -> None:
        started = time.perf_counter()
        try:
            picture, trace = maximize_unit(
                forward, channel, size=opts["size"], channels=channels, steps=opts["steps"],
                device=opts["device"],
            )  # fmt: skip
        except ExplainError as exc:
            raise CommandError(str(exc)) from None
        path = opts["out"] / "unit.png"
        path.write_bytes(png_bytes(picture))
        self.stdout.write(
            f"wrote {path}: activation {trace[0]:.3g} -> {trace[-1]:.3g} in {len(trace)} steps, "
            f"{time.perf_counter() - started:.1f}s"
        )
