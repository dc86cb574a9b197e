"""A trained net on disk (checkpoint + TorchScript) and its predictions on a picture.
Every model.pt carries the header of playground/modelfile.py; `model_file_load` reads
the playground's and transfer learning's alike."""

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from playground.modelfile import NETSPEC, VGG19_TRANSFER, ModelInfo, model_header, model_info
from playground.netspec import Net, build


def model_save(
    model: Net, classes: list[str], directory: Path, task: str = "classify"
) -> dict[str, Path]:
    """Write model.pt (the header, spec, state dict) and model.torchscript.pt; return
    their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "checkpoint": directory / "model.pt",
        "torchscript": directory / "model.torchscript.pt",
    }
    checkpoint = {
        **model_header(architecture=NETSPEC, task=task, classes=classes,
                       input_shape=model.input_shape, preprocessing={
                           "channels": "grey" if model.input_shape[0] == 1 else "RGB",
                           "resize": list(model.input_shape[1:]), "scale": "pixels / 255",
                           "inside": "per-channel mean and std of the training pictures"}),
        "spec": model.spec,
        "state_dict": model.state_dict(),
        "head": model.head_kind,  # what the outputs mean (netspec.HEADS)
        "outputs": model.num_classes,
    }
    model = model.eval().cpu()
    with torch.no_grad():
        scripted = torch.jit.trace(model, torch.rand(1, *model.input_shape))
    for key, write in (
        ("checkpoint", lambda p: torch.save(checkpoint, p)),
        ("torchscript", scripted.save),
    ):
        partial = paths[key].with_suffix(".partial")  # rename once complete: never half a file
        write(str(partial))
        partial.replace(paths[key])
    return paths


def model_file_load(source) -> tuple[torch.nn.Module, ModelInfo]:
    """Any playground model.pt (a path, bytes' file object): the model in eval mode and
    its header."""
    data = source.read() if hasattr(source, "read") else Path(source).read_bytes()
    info = model_info(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
    if info.architecture == VGG19_TRANSFER:
        from playground.transfer.engine import transfer_load

        return transfer_load(io.BytesIO(data))[0], info
    return model_load(io.BytesIO(data))[0], info


def model_load(path: Path) -> tuple[Net, list[str]]:
    """Rebuild a net saved by model_save; returns (model in eval mode, class names)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    outputs = checkpoint.get("outputs", len(checkpoint["classes"]))
    model = build(checkpoint["spec"], tuple(checkpoint["input_shape"]), outputs,
                  head=checkpoint.get("head", "classifier"))  # fmt: skip
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), checkpoint["classes"]


@torch.inference_mode()
def predict(model: Net, picture: Image.Image, classes: list[str], top: int = 5) -> list[dict]:
    """Class probabilities for one picture, resized to the net's input, best first."""
    c, h, w = model.input_shape
    pixels = np.asarray(picture.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR))
    x = torch.tensor(pixels, dtype=torch.float32) / 255  # (H, W) or (H, W, 3)
    x = x[None] if c == 1 else x.permute(2, 0, 1)  # (C, H, W)
    device = next(model.parameters()).device
    probs = model.eval()(x[None].to(device)).softmax(dim=1)[0].cpu()
    best = probs.argsort(descending=True)[:top]
    return [{"label": classes[i], "probability": float(probs[i])} for i in best]
