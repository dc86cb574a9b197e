"""Style transfer at print sizes: our tiled engine against pastiche 1.6.0, in one script.

Our side runs the `print` preset (coarse-to-fine whole up to 1024 px, then refined in
overlapping 1024 px tiles) at 2048 px on the long side (and 4096 with --sizes 2048 4096);
the peer runs its own command, whole-picture, at --peer-size (the largest size it can be
given in our time box on this CPU: every one of its 50 L-BFGS steps runs over the whole
picture). Each run is its own subprocess: wall time, CPU time and peak RSS (wait4) are its
own. Quality: the neutral figures of bench_styletransfer.py (Gram distance to the painting,
relu4_2 distance to the photo, lower is better) and, for our tiled results, the seam
figure of the tests (styletransfer.engine.seam_ratio: gradient energy across tile borders
/ across the other 16 px grid lines; above 1 means the borders show).

Run:  .venv/bin/python bench/bench_print.py [--sizes 2048] [--peer-size 1024]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_styletransfer import (  # noqa: E402
    PEER_STEPS,
    WEIGHTS,
    Run,
    quality,
    run_measured,
    write_inputs,
)
from styletransfer.engine import preset, seam_ratio  # noqa: E402
from styletransfer.vgg import load_vgg19  # noqa: E402

OURS = """
import sys, time
from PIL import Image
from styletransfer.engine import preset, stylize
from styletransfer.vgg import load_vgg19
photo, painting, out, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
steps, coarse, log = int(sys.argv[6]), int(sys.argv[7]), open(sys.argv[8], "a")
levels, passes = int(sys.argv[9]), int(sys.argv[10])
config = preset("print", size=size, steps=steps, coarse_steps=coarse, levels=levels,
                tile_passes=passes, device="cpu")
net = load_vgg19(sys.argv[5], config.last_layer)
level_start = [0.0, 0]
def report(e):
    if e.level_done:
        took = e.seconds - level_start[0]
        steps = e.step - level_start[1]
        w, h = e.size
        line = f"LEVEL {e.level} {w}x{h} steps {steps} seconds {took:.1f}"
        print(line, flush=True)
        print(line, file=log, flush=True)
        level_start[:] = [e.seconds, e.step]
result = stylize(Image.open(photo), [Image.open(painting)], config, net=net, on_progress=report)
result.image.save(out)
print(f"STEPS {result.steps} SECONDS {result.seconds:.3f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048])
    parser.add_argument("--peer-size", type=int, default=1024)
    default = preset("print")
    parser.add_argument("--steps", type=int, default=default.steps, help="at full size")
    parser.add_argument("--coarse-steps", type=int, default=default.coarse_steps)
    parser.add_argument("--levels", type=int, default=default.levels)
    parser.add_argument("--passes", type=int, default=default.tile_passes)
    parser.add_argument("--peer-steps", type=int, default=PEER_STEPS)
    parser.add_argument("--log", default=os.devnull, help="our levels' times, as they end")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads")
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photo, painting = write_inputs(work)
        rows = []
        for size in args.sizes:
            out = work / f"ours{size}.png"
            cmd = [sys.executable, "-c", OURS, str(photo), str(painting), str(out), str(size)]
            extra = [str(args.steps), str(args.coarse_steps), args.log, str(args.levels)]
            extra.append(str(args.passes))
            seconds, cpu, peak, output = run_measured([*cmd, str(WEIGHTS), *extra])
            print(output.strip(), flush=True)
            steps = int(output.split("STEPS ")[1].split()[0])
            print(f"ours {size}: {seconds:.0f} s wall, {cpu:.0f} CPU s, {peak:.0f} MB", flush=True)
            name = (
                f"ours {size} px (print: {args.levels} levels, {args.steps} steps at full size "
                f"in {args.passes} pass(es), {args.coarse_steps} per smaller level; tiled)"
            )
            rows.append((name, Run(seconds, cpu, steps, peak), out, size))
        peer_out = work / "peer.png"
        peer_cmd = [sys.executable, "-m", "pastiche", "--device", "cpu", "--seed", "0"]
        peer_cmd += ["--size", str(args.peer_size), "--style-size", str(args.peer_size)]
        peer_cmd += ["--num-steps", str(args.peer_steps), "--no-verbose"]
        peer_cmd += ["-c", str(photo), "-s", str(painting), "-o", str(peer_out)]
        seconds, cpu, peak, _ = run_measured(peer_cmd)
        print(f"pastiche: {seconds:.0f} s wall, {cpu:.0f} CPU s, {peak:.0f} MB", flush=True)
        rows.append(
            (
                f"pastiche {args.peer_size} px, {args.peer_steps} steps (whole picture)",
                Run(seconds, cpu, args.peer_steps, peak),
                peer_out,
                args.peer_size,
            )
        )
        net = load_vgg19(WEIGHTS, "relu5_1")
        print("\n| run | wall s | CPU s | steps | peak MB | style | content | seam |")
        print("|---|---|---|---|---|---|---|---|")
        for name, run, out, size in rows:
            run.style, run.content = quality(out, photo, painting, size, net)
            seam = "–"
            if name.startswith("ours"):
                picture = np.asarray(Image.open(out).convert("RGB"), dtype=np.float64) / 255
                seam = f"{seam_ratio(picture, preset('print', size=size)):.3f}"
                photo_at = Image.open(photo).convert("RGB").resize(Image.open(out).size)
                plain = np.asarray(photo_at, dtype=np.float64) / 255
                seam += f" (photo {seam_ratio(plain, preset('print', size=size)):.3f})"
            print(
                f"| {name} | {run.seconds:.0f} | {run.cpu_seconds:.0f} | {run.steps} | "
                f"{run.peak_mb:.0f} | {run.style:.4f} | {run.content:.4f} | {seam} |",
                flush=True,
            )
        ours, peer = rows[0][1], rows[-1][1]
        print(
            f"\nratios ours {args.sizes[0]} px / pastiche {args.peer_size} px: wall "
            f"{ours.seconds / peer.seconds:.2f}, CPU {ours.cpu_seconds / peer.cpu_seconds:.2f}, "
            f"peak memory {ours.peak_mb / peer.peak_mb:.2f}, "
            f"style {ours.style / peer.style:.2f}, content {ours.content / peer.content:.2f}"
        )
        print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
