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
    RegionSpec,
    StyleProgress,
    describe,
    pick_device,
    plan,
    preset,
    stylize,
)
from styletransfer.vgg import load_vgg19
from webapp.modelfiles import ModelFileError, model_path
from webapp.pictures import UploadError, UploadLimits, read_label_map, read_picture

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
    "tile_size": "tile_size",
    "tile_overlap": "tile_overlap",
    "tile_passes": "tile_passes",
}


def _region(text: str) -> RegionSpec:
    """`none` (keep the photo) or `STYLE[:STRENGTH]`, STYLE counted from 1."""
    if text == "none":
        return RegionSpec(style=None)
    style, _, strength = text.partition(":")
    return RegionSpec(style=int(style) - 1, strength=float(strength or 1.0))


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
        parser.add_argument("--start-from", help="start from this picture (an earlier result)")
        parser.add_argument("--tile-size", type=int, help="larger levels are refined in tiles")
        parser.add_argument("--tile-overlap", type=int, help="pixels tiles share")
        parser.add_argument("--tile-passes", type=int, help="passes over the tiles")
        parser.add_argument("--labels", help="a label map: grey value = region number")
        parser.add_argument(
            "--region",
            nargs="+",
            help="per region of --labels: none (keep the photo) or STYLE[:STRENGTH]",
        )
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
            extras: dict = {}
            if options["start_from"]:
                extras["init"] = _read(options["start_from"])
            if options["labels"] or options["region"]:
                regions = [_region(text) for text in options["region"] or []]
                data = Path(options["labels"] or "").read_bytes()
                extras["labels"] = read_label_map(
                    data, options["labels"], UploadLimits(), len(regions)
                )
                extras["regions"] = regions
            weights = options["weights"] or model_path("vgg19_caffe_q.bin")
            net = load_vgg19(weights, config.last_layer)
            self.stdout.write(f"device: {describe(pick_device(config.device))}")
        except (UploadError, ValueError, OSError, ModelFileError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{config.size} px, levels {config.level_sizes()}, "
            f"{sum(level.total_steps for level in plan(content.size, config))} steps, "
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

        try:
            result = stylize(content, styles, config, net=net, on_progress=report, **extras)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        result.image.save(options["output"], format="PNG")
        self.stdout.write(
            f"wrote {options['output']} ({result.image.width}x{result.image.height}) "
            f"in {result.seconds:.1f} s, {result.steps} steps on {result.device}"
        )
