"""How long a cancel takes to stop a style job at print size: the engine with the real
VGG19 on the CPU, `should_stop` turning True `--after` seconds into the run, timed until
`stylize` returns (the worker then writes no picture: styletransfer/worker.py).

    .venv/bin/python bench/bench_cancel.py [--size 4096] [--levels 1] [--after 30 60]

`--levels 1` starts straight at the full size, a tiled level: the first minutes are the
sweeps over the painting's and the photo's tiles (no step in between), where a cancel used
to wait for the whole sweep (issue 21: 160-182 s at 4096 px). `--tile-size 2048 --size 1024`
instead makes one whole-picture step of about a minute on this CPU, to cancel inside it.
The job's own poll of the database (JOB_CANCEL_POLL_S, 0.5 s) comes on top.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_styletransfer import WEIGHTS, write_inputs  # noqa: E402
from styletransfer.engine import preset, stylize  # noqa: E402
from styletransfer.vgg import load_vgg19  # noqa: E402


def cancel_once(photo, painting, config, net, after: float) -> str:
    """Run until `after` seconds, then cancel; what happened and how long stopping took."""
    steps: list[int] = []
    asked: list[float] = []
    started = time.monotonic()

    def should_stop() -> bool:
        if time.monotonic() - started < after:
            return False
        asked.append(asked[0] if asked else time.monotonic())
        return True

    result = stylize(photo, [painting], config, net=net, should_stop=should_stop,
                     on_progress=lambda event: steps.append(event.step))  # fmt: skip
    latency = time.monotonic() - asked[0]
    where = f"after step {steps[-1]}" if steps else "in the first sweep, before any step"
    return f"cancel at {after:.0f} s ({where}): stopped={result.stopped}, {latency:.2f} s to stop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--levels", type=int, default=1)
    parser.add_argument("--tile-size", type=int, default=1024)
    parser.add_argument("--after", type=float, nargs="+", default=[30.0])
    args = parser.parse_args()
    config = preset("print", size=args.size, levels=args.levels, tile_size=args.tile_size,
                    device="cpu")  # fmt: skip
    net = load_vgg19(WEIGHTS, config.last_layer)
    with tempfile.TemporaryDirectory() as tmp:
        photo_path, painting_path = write_inputs(Path(tmp))
        photo = Image.open(photo_path).convert("RGB")
        painting = Image.open(painting_path).convert("RGB")
    print(f"size {args.size} px, levels {args.levels}, tiles {args.tile_size} px, CPU")
    for after in args.after:
        print(cancel_once(photo, painting, config, net, after), flush=True)


if __name__ == "__main__":
    main()
