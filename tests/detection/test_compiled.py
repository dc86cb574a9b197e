"""`Detector(compiled=True)`: torch.compile with frozen weights computes the same thing.

A file of its own because compiling takes 20-60 s on a small CPU, even for the tiny model.
"""

from __future__ import annotations

import torch
import torch._inductor.config
from PIL import Image

from detection.darknet import load_darknet
from detection.yolo import Detector


def test_compiled_network_gives_the_same_output(tiny_files):
    plain = Detector(load_darknet(*tiny_files), ["cat", "dog"])
    compiled = Detector(load_darknet(*tiny_files), ["cat", "dog"], compiled=True)
    batch, _ = plain.preprocess([Image.new("RGB", (50, 30), (90, 140, 10))])
    # One compile process: a pool of them costs more than it saves on two cores.
    with torch._inductor.config.patch(compile_threads=1):
        out = compiled.forward(batch)
    torch.testing.assert_close(out, plain.forward(batch), rtol=1e-4, atol=1e-5)
