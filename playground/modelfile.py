"""One model file for every playground model (`model.pt`): the weights with a header that
every consumer reads – format, architecture, task, class names, input shape and the
preprocessing the pictures need. `export.model_save` and `transfer.engine.transfer_save`
write it; `export.model_file_load` reads any of them. No torch here: the header is data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FORMAT = 1
NETSPEC = "netspec"  # a net built from a spec (playground/netspec.py)
VGG19_TRANSFER = "vgg19-transfer"  # VGG19 cut at a block with a new head (transfer/engine.py)


@dataclass(frozen=True)
class ModelInfo:
    architecture: str
    task: str  # what the outputs mean (playground/taskcatalogue.py's tasks)
    classes: list[str]
    input_shape: tuple[int, int, int]  # (C, H, W) the model takes
    preprocessing: dict[str, Any]  # what to do to a picture first (the rest is inside)


def model_header(
    *, architecture: str, task: str, classes: list[str], input_shape, preprocessing: dict
) -> dict[str, Any]:
    """The header keys of a model.pt, beside its weights."""
    return {"format": FORMAT, "architecture": architecture, "task": task,
            "classes": list(classes), "input_shape": list(input_shape),
            "preprocessing": dict(preprocessing)}  # fmt: skip


def model_info(checkpoint: dict[str, Any]) -> ModelInfo:
    """The header of a loaded model.pt. Files written before the header existed (no
    "format") are described from what they hold, here and nowhere else."""
    if "format" not in checkpoint:
        transfer = checkpoint.get("transfer")
        side = int(transfer.get("image_size", 32)) if transfer else None
        shape = ([checkpoint["input_channels"], side, side] if transfer
                 else checkpoint["input_shape"])  # fmt: skip
        checkpoint = {**checkpoint, **model_header(
            architecture=VGG19_TRANSFER if transfer else NETSPEC, task="classify",
            classes=checkpoint["classes"], input_shape=shape, preprocessing={})}  # fmt: skip
    return ModelInfo(
        architecture=checkpoint["architecture"],
        task=checkpoint["task"],
        classes=list(checkpoint["classes"]),
        input_shape=tuple(checkpoint["input_shape"]),
        preprocessing=dict(checkpoint["preprocessing"]),
    )
