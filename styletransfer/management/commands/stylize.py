"""`manage.py stylize CONTENT STYLE [STYLE ...] -o OUT`: the engine from the command line."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from PIL import Image

from styletransfer.engine import (
    COLOR_MODES,
    DEVICES,
    INITS,
    OPTIMIZERS,
    POOLINGS,
    PRESETS,
    StyleProgress,
    describe,
    pick_device,
    preset,
    stylize,
)
from styletransfer.vgg import load_vgg19
from webapp.modelfiles import ModelFileError, model_path
from webapp.pictures import UploadError, read_picture

# command-line option -> StyleConfig field, for the options that map one to one
FIELDS = {
    "size": "size",
    "steps": "steps",
    "levels": "levels",
    "coarse_steps": "coarse_steps",
    "style_weight": "style_weight",
    "content_weight": "content_weight",
    "tv_weight": "tv_weight",
    "optimizer": "optimizer",
    "learning_rate": "learning_rate",
    "init": "init",
    "pooling": "pooling",
    "preserve_color": "preserve_color",
    "device": "device",
    "seed": "seed",
}


def _read(path: str) -> Image.Image:
    """A picture file, upright 8-bit RGB, through the site's one picture reader."""
    return read_picture(Path(path).read_bytes(), path).image


class Command(BaseCommand):
    help = "Paint a photo in the style of one or more paintings (Gatys et al. style transfer)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("content", help="the photo")
        parser.add_argument("styles", nargs="+", help="one or more paintings")
        parser.add_argument("-o", "--output", required=True, help="where to write the PNG")
        parser.add_argument(
            "--preset", choices=PRESETS, default="standard", help="defaults to start from"
        )
        parser.add_argument("--size", type=int, help="longest side of the output, pixels")
        parser.add_argument("--steps", type=int, help="optimiser steps at the full size")
        parser.add_argument("--levels", type=int, help="coarse-to-fine levels (1 = off)")
        parser.add_argument("--coarse-steps", type=int, help="steps at each smaller level")
        parser.add_argument("--style-weight", type=float)
        parser.add_argument("--content-weight", type=float)
        parser.add_argument("--tv-weight", type=float)
        parser.add_argument(
            "--style-blend", type=float, nargs="+", help="one weight per style picture"
        )
        parser.add_argument(
            "--preserve-color",
            nargs="?",
            const="luminance",
            choices=COLOR_MODES,
            help="keep the photo's colours: luminance (default when given) or match",
        )
        parser.add_argument("--optimizer", choices=OPTIMIZERS)
        parser.add_argument("--learning-rate", type=float, help="Adam's step size")
        parser.add_argument("--init", choices=INITS)
        parser.add_argument("--pooling", choices=POOLINGS)
        parser.add_argument("--device", choices=DEVICES)
        parser.add_argument("--seed", type=int)
        parser.add_argument("--weights", type=Path, help="VGG19 file (default: the Caffe file)")
        parser.add_argument("--every", type=int, default=10, help="print losses every N steps")

    def handle(self, *args: object, **options: object) -> None:
        changes = {field: options[opt] for opt, field in FIELDS.items() if options[opt] is not None}
        if options["style_blend"]:
            changes["style_blend"] = tuple(options["style_blend"])
        try:
            config = preset(options["preset"], **changes)
            content = _read(options["content"])
            styles = [_read(path) for path in options["styles"]]
            weights = options["weights"] or model_path("vgg19_caffe_q.bin")
            net = load_vgg19(weights, config.last_layer)
            self.stdout.write(f"device: {describe(pick_device(config.device))}")
        except (UploadError, ValueError, OSError, ModelFileError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{config.size} px, levels {config.level_sizes()}, {config.total_steps} steps, "
            f"{config.optimizer}, style weight {config.style_weight}"
        )
        every = max(1, options["every"])

        def report(event: StyleProgress) -> None:
            if event.step % every == 0 or event.step == event.total_steps:
                losses = "  ".join(f"{k} {v:.4g}" for k, v in event.losses.items())
                w, h = event.size
                self.stdout.write(
                    f"step {event.step:4d}/{event.total_steps} {w}x{h}  {losses}"
                    f"  {event.seconds:.1f} s"
                )

        result = stylize(content, styles, config, net=net, on_progress=report)
        result.image.save(options["output"], format="PNG")
        self.stdout.write(
            f"wrote {options['output']} ({result.image.width}x{result.image.height}) "
            f"in {result.seconds:.1f} s, {result.steps} steps on {result.device}"
        )
