"""The measurements behind `styletransfer.services.estimate`: peak memory and time of one
stylize job for a few sizes, optimisers and numbers of styles, on this machine's CPU.

Each setting runs in its own subprocess (the engine as the worker runs it: the real VGG19
file, square pictures - the worst case for a given longest side), so its peak RSS
(ru_maxrss from wait4) is its own. Printed per run: seconds to load the net, seconds of
set-up per level (style targets), seconds per optimiser step at full size, peak MB.
Run:  .venv/bin/python bench/bench_stylize_cost.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ONE_RUN = """
import json, sys, time
import numpy as np, torch
from PIL import Image
from styletransfer.engine import StyleConfig, stylize
from styletransfer.vgg import load_vgg19
size, steps, styles, optimizer, weights = sys.argv[1:6]
size, steps, styles = int(size), int(steps), int(styles)
rng = np.random.default_rng(0)
def picture():
    return Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8), "RGB")
config = StyleConfig(size=size, steps=steps, levels=1, optimizer=optimizer, device="cpu")
started = time.perf_counter()
net = load_vgg19(weights, config.last_layer)
loaded = time.perf_counter() - started
times = []
stylize(picture(), [picture() for _ in range(styles)], config, net=net,
        on_progress=lambda e: times.append(e.seconds))
setup = times[0] - (times[1] - times[0])  # before the first step: targets of all styles
per_step = (times[-1] - times[0]) / max(1, len(times) - 1)
print(json.dumps({"load_s": loaded, "setup_s": setup, "step_s": per_step}))
"""

SETTINGS = [  # (size, steps, styles, optimizer)
    (128, 6, 1, "lbfgs"),
    (192, 6, 1, "lbfgs"),
    (256, 6, 1, "lbfgs"),
    (256, 6, 1, "adam"),
    (256, 4, 8, "lbfgs"),
    (384, 4, 1, "lbfgs"),
    (384, 4, 1, "adam"),
]


def run(size: int, steps: int, styles: int, optimizer: str, weights: Path) -> dict:
    """One setting in a fresh interpreter; its timings and its own peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-c", ONE_RUN, str(size), str(steps), str(styles), optimizer]
    proc = subprocess.Popen([*args, str(weights)], stdout=subprocess.PIPE, env=env, cwd=ROOT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"{args} failed with status {status}")
    return json.loads(out) | {"peak_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=ROOT / "data/models/vgg19_caffe_q.bin")
    parser.add_argument("--quick", action="store_true", help="only the first three settings")
    args = parser.parse_args()
    print("size steps styles optimizer  load_s setup_s step_s peak_mb")
    for size, steps, styles, optimizer in SETTINGS[:3] if args.quick else SETTINGS:
        r = run(size, steps, styles, optimizer, args.weights)
        print(
            f"{size:4d} {steps:5d} {styles:6d} {optimizer:9s} {r['load_s']:6.2f} "
            f"{r['setup_s']:7.2f} {r['step_s']:6.3f} {r['peak_mb']:7.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
