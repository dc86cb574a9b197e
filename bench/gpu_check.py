"""The GPU path, checked and timed: every engine on CUDA against the CPU, then one job of
each kind through a real Celery worker (`make gpu-check`; docs/benchmarks.md, "GPU").

    python bench/gpu_check.py [--quick] [--part engines|worker|all] [--strict]

Engine half (torch, PIL, numpy and scikit-learn's two sample photos; no Django):
- agreement, same inputs on both devices: style-transfer losses of the first Adam steps
  (CUDA bfloat16 autocast and CUDA float32 against CPU float32), detection raw outputs and
  final boxes (CUDA float16 against CPU float32), one playground training step (loss and
  weight update);
- timing, `torch.cuda.synchronize()` around every timed region, warm-up runs untimed,
  peak GPU memory (`torch.cuda.max_memory_allocated`) per run: 500 Adam steps at 512 px,
  the default preset at 1024 px, detection throughput at batch 1, 8 and 32, playground
  epochs of LeNet-5 and the small ResNet; the CPU is timed on fewer steps beside it.
Worker half (bench/gpu_worker.py): a real Redis, a real prefork worker with one child, one
job of each kind, CUDA initialised in the child only, the dashboard's worker record.

Prints one table and writes it as JSON to bench/results/gpu_check.json (and to $OUT when
that is set). Exits 1 on any disagreement or failed check, 0 otherwise; without CUDA the
CUDA rows say "no CUDA" and the CPU half still runs. `--strict` also fails on a skipped
check (a missing model file), for the run on the GPU machine. `--quick` uses small sizes
so the CPU half takes a minute or two.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
import traceback
import types
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see bench_detection.py

import torch  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

# Tolerances, stated once. Relative differences are |cuda - cpu| / |cpu|.
STYLE_BF16_RTOL = 0.05  # total and style loss, each of the first steps, bfloat16 autocast
STYLE_FP32_RTOL = 0.01  # the same in float32 (cuDNN may use TF32 for convolutions)
DET_PROB_ATOL = 0.02  # objectness and class probabilities, float16 vs float32
DET_BOX_ATOL_PX = 2.0  # box centre and size in net-input pixels, rows with objectness >= 0.05
DET_MATCH_IOU = 0.9  # a final box matches one of the same class overlapping this much
DET_SCORE_ATOL = 0.02  # ... with a score this close; boxes this close to `conf` may be missing
TRAIN_LOSS_RTOL = 0.005  # a training step's loss
TRAIN_UPDATE_RTOL = 0.02  # max |update_cuda - update_cpu| / max |update_cpu|, one SGD step
STYLE_GOAL_S = 1.0  # issue 15: 500 Adam steps at 512 px in at most 1 s on an H100

ENGINE_MODULES = (
    "styletransfer.engine",
    "styletransfer.vgg",
    "detection.yolo",
    "detection.darknet",
    "playground.trainer",
    "playground.datasets",
    "playground.netspec",
    "playground.presets",
)
NOT_ENGINE = ("django", "celery", "kombu", "channels", "redis", "daphne")


@dataclass
class Row:
    """One line of the table: a check (ok True/False) or a timing (ok None)."""

    section: str  # "style", "detection", "playground", "worker", "imports"
    what: str
    cpu: str = ""
    cuda: str = ""
    limit: str = ""  # the tolerance, or the goal / ratio for timings
    ok: bool | None = None  # None: a timing or a note; False fails the run
    skipped: str = ""  # why it did not run ("no CUDA", "model file missing")
    data: dict = field(default_factory=dict)  # the raw numbers, for the JSON


@dataclass
class Sizes:
    """What gets run: the issue's sizes on a GPU, small ones with --quick."""

    style_check_px: int = 256
    style_check_steps: int = 5
    style_px: int = 512
    style_steps: int = 500
    style_cpu_steps: int = 3
    preset_px: int = 1024
    det_batches: tuple[int, ...] = (1, 8, 32)
    det_cpu_batches: tuple[int, ...] = (1, 8)
    det_repeats: int = 20
    det_cpu_repeats: int = 3
    train_samples: int = 2000
    train_epochs: int = 3  # the first is warm-up
    train_cpu_epochs: int = 2


QUICK = Sizes(
    style_check_px=64,
    style_check_steps=3,
    style_px=128,
    style_steps=10,
    style_cpu_steps=2,
    preset_px=128,
    det_batches=(1, 4),
    det_cpu_batches=(1, 4),
    det_repeats=3,
    det_cpu_repeats=2,
    train_samples=400,
    train_epochs=2,
    train_cpu_epochs=2,
)


# ----------------------------------------------------------------------------- helpers


def import_engines_without_celery() -> None:
    """Let the Django-free engine modules import where Celery is not installed.

    `playground.datasets` imports `webapp.pictures`, and `webapp/__init__.py` creates the
    Celery app, so on a bare Python (the GPU machine's) the playground cannot be imported.
    The engines use nothing of that app: register the `webapp` package without running its
    `__init__`. Where Celery is installed nothing changes.
    """
    if importlib.util.find_spec("celery") is None and "webapp" not in sys.modules:
        package = types.ModuleType("webapp")
        package.__path__ = [str(ROOT / "webapp")]
        sys.modules["webapp"] = package


def models_dir() -> Path:
    return Path(os.environ.get("STUDIO_DATA_DIR") or ROOT / "data") / "models"


def cuda_ready() -> bool:
    return torch.cuda.is_available()


def timed(run: Callable[[], object], device: str) -> tuple[float, float, object]:
    """(seconds, peak GPU MiB or 0, run's value) with the device synchronised around it."""
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    value = run()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else 0.0
    return seconds, peak, value


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def pct(x: float) -> str:
    return f"{100 * x:.2g}%"


def ratio(a: float, b: float) -> str:
    x = a / b
    return f"{x:.0f}x" if x >= 10 else f"{x:.2g}x"


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def photos() -> list[Image.Image]:
    """Real photos bundled with scikit-learn (china.jpg, flower.jpg): no files needed."""
    from sklearn.datasets import load_sample_image

    return [Image.fromarray(load_sample_image(n)) for n in ("china.jpg", "flower.jpg")]


# ----------------------------------------------------------------------------- style


def style_rows(sizes: Sizes, timing: bool = True) -> list[Row]:
    """The section's agreement rows, then (`timing`) its timings."""
    from styletransfer.engine import StyleConfig, preset, stylize
    from styletransfer.gallery import gallery_picture
    from styletransfer.vgg import load_vgg19

    weights = models_dir() / "vgg19_caffe_q.bin"
    if not weights.is_file():
        return [Row("style", "all style-transfer checks", skipped=f"{weights} missing")]
    net = load_vgg19(weights)
    photo, painting = photos()[0], gallery_picture("swirl")
    rows: list[Row] = []

    def run(device: str, precision: str, size: int, steps: int, **more) -> tuple:
        config = StyleConfig(
            size=size,
            steps=steps,
            levels=1,
            coarse_steps=0,
            optimizer="adam",
            device=device,
            precision=precision,
            **{"init": "content", **more},
        )
        marks: list[float] = []  # when each step finished: the steps' own pace, setup excluded
        seconds, peak, result = timed(
            lambda: stylize(
                photo,
                [painting],
                config,
                net=net,
                on_progress=lambda p: marks.append(time.perf_counter()),
            ),
            device,
        )
        per_step = (marks[-1] - marks[0]) / (len(marks) - 1) if len(marks) > 1 else seconds
        return seconds, peak, per_step, result

    # Agreement: the losses of the first steps, the same photo, painting and start.
    n, px = sizes.style_check_steps, sizes.style_check_px
    reference = run("cpu", "float32", px, n)[3].losses
    for precision, tol in (("bfloat16", STYLE_BF16_RTOL), ("float32", STYLE_FP32_RTOL)):
        what = f"losses of the first {n} Adam steps at {px} px, CUDA {precision} vs CPU float32"
        row = Row(
            "style",
            what,
            cpu=f"total {reference[0]['total']:.4g} at step 1",
            limit=f"<= {pct(tol)} per step",
        )
        if not cuda_ready():
            row.skipped = "no CUDA"
        else:
            losses = run("cuda", precision, px, n)[3].losses
            worst = {
                k: max(rel(c[k], r[k]) for c, r in zip(losses, reference, strict=True))
                for k in ("total", "style")
            }
            row.cuda = f"max diff total {pct(worst['total'])}, style {pct(worst['style'])}"
            row.ok = max(worst.values()) <= tol
            row.data = {"cpu": reference, "cuda": losses, "max_rel": worst}
        rows.append(row)

    # Every option that takes its own code path must at least run on CUDA.
    options = {
        "init": ("noise", "style-colors"),
        "preserve_color": ("luminance", "match"),
        "pooling": ("avg",),
    }
    for name, values in options.items():
        for value in values:
            row = Row(
                "style",
                f"2 steps with {name}={value}, CUDA vs CPU",
                limit=f"total loss <= {pct(STYLE_BF16_RTOL)}",
            )
            cpu_loss = run("cpu", "float32", px, 2, **{name: value})[3].losses[-1]["total"]
            row.cpu = f"total {cpu_loss:.4g}"
            if not cuda_ready():
                row.skipped = "no CUDA"
            else:
                try:
                    loss = run("cuda", "auto", px, 2, **{name: value})[3].losses[-1]["total"]
                    row.cuda, row.ok = f"total {loss:.4g}", rel(loss, cpu_loss) <= STYLE_BF16_RTOL
                except RuntimeError as exc:  # e.g. a tensor left on the CPU
                    row.cuda, row.ok = f"{type(exc).__name__}: {str(exc)[:120]}", False
            rows.append(row)

    if not timing:
        return rows
    # Timing: Adam steps at 512 px; the CPU gets a few steps after one untimed.
    run("cpu", "float32", sizes.style_px, 1)
    cpu_s, _, cpu_step, _ = run("cpu", "float32", sizes.style_px, sizes.style_cpu_steps)
    cpu_text = f"{ms(cpu_step)}/step ({sizes.style_cpu_steps} steps)"
    for precision in ("bfloat16", "float32"):
        what = f"{sizes.style_steps} Adam steps at {sizes.style_px} px, {precision} on CUDA"
        row = Row("style", what, cpu=cpu_text, data={"cpu_step_s": cpu_step})
        if not cuda_ready():
            row.skipped = "no CUDA"
        else:
            run("cuda", precision, sizes.style_px, 5)  # warm-up: cuDNN picks its kernels
            seconds, peak, step, _ = run("cuda", precision, sizes.style_px, sizes.style_steps)
            row.cuda = f"{seconds:.3g} s, {ms(step)}/step, peak {peak:.0f} MiB"
            goal = ""
            if precision == "bfloat16" and sizes.style_steps == 500 and sizes.style_px == 512:
                met = "met" if seconds <= STYLE_GOAL_S else "not met"
                goal = f"goal <= {STYLE_GOAL_S:g} s (H100): {met}; "
            row.limit = f"{goal}CPU/CUDA per step {ratio(cpu_step, step)}"
            row.data.update(seconds=seconds, step_s=step, peak_mib=peak)
        rows.append(row)

    # The default preset (L-BFGS, coarse to fine) at 1024 px, as a user's job runs it.
    config = preset("standard", size=sizes.preset_px, device="cuda")
    what = f"default preset at {sizes.preset_px} px ({config.total_steps} L-BFGS steps), CUDA"
    row = Row("style", what, cpu="not timed (minutes)")
    if not cuda_ready():
        row.skipped = "no CUDA"
    else:
        stylize(photo, [painting], config, net=net)  # warm-up: every level's kernels
        seconds, peak, _ = timed(lambda: stylize(photo, [painting], config, net=net), "cuda")
        row.cuda = f"{seconds:.3g} s, peak {peak:.0f} MiB"
        row.data = {"seconds": seconds, "peak_mib": peak, "steps": config.total_steps}
    rows.append(row)
    net.to("cpu", memory_format=torch.contiguous_format)
    return rows


# ----------------------------------------------------------------------------- detection


def detection_pictures() -> list[Image.Image]:
    """Eight pictures from the two photos: whole, mirrored, and crops where objects are."""
    china, flower = photos()
    return [
        china,
        flower,
        ImageOps.mirror(china),
        ImageOps.mirror(flower),
        flower.crop((240, 0, 400, 160)),
        ImageOps.mirror(flower).crop((240, 0, 400, 160)),
        china.crop((0, 0, 320, 320)),
        flower.rotate(90, expand=True),
    ]


def match_detections(ours: list, reference: list, conf: float) -> list[str]:
    """What differs between two pictures' final detections (empty when they agree)."""
    from detection.yolo import box_iou

    problems = []
    for a_list, b_list, side in ((reference, ours, "CUDA"), (ours, reference, "CPU")):
        for a in a_list:
            same = [b for b in b_list if b.class_id == a.class_id]
            found = False
            if same:
                ious = box_iou(torch.tensor([a.box]), torch.tensor([b.box for b in same]))[0]
                best = int(ious.argmax())
                found = float(ious[best]) >= DET_MATCH_IOU and (
                    abs(same[best].score - a.score) <= DET_SCORE_ATOL
                )
            if not found and a.score - conf > DET_SCORE_ATOL:  # borderline boxes may flip
                problems.append(f"{side} lacks {a.class_name} {a.score:.3f} at {a.box}")
    return problems


def detection_rows(sizes: Sizes, timing: bool = True) -> list[Row]:
    """The section's agreement rows, then (`timing`) its timings."""
    from detection.yolo import Detector

    files = [models_dir() / n for n in ("yolov3-tiny.cfg", "yolov3-tiny.weights", "coco.names")]
    if not all(f.is_file() for f in files):
        return [Row("detection", "all detection checks", skipped=f"{files[1]} missing")]
    pictures = detection_pictures()
    cpu = Detector.from_files(*files, device="cpu")
    batch, _ = cpu.preprocess(pictures)
    raw_cpu = cpu.forward(batch)
    final_cpu = cpu.detect(pictures)
    boxes = sum(len(d) for d in final_cpu)
    rows: list[Row] = []
    for half in (True, False):
        precision = "float16" if half else "float32"
        row = Row(
            "detection",
            f"raw outputs and final boxes of 8 pictures, CUDA {precision} vs CPU float32",
            cpu=f"{boxes} boxes at conf 0.25",
            limit=f"p +-{DET_PROB_ATOL}, box +-{DET_BOX_ATOL_PX:g} px, IoU >= {DET_MATCH_IOU}",
        )
        if not cuda_ready():
            row.skipped = "no CUDA"
            rows.append(row)
            continue
        gpu = Detector.from_files(*files, device="cuda", half=half)
        raw = gpu.forward(batch).float().cpu()
        live = raw_cpu[..., 4] >= 0.05  # rows that can become boxes
        prob = float((raw[..., 4:] - raw_cpu[..., 4:]).abs().max())
        box_diff = (raw[..., :4] - raw_cpu[..., :4])[live].abs()  # (K, 4), fractions of 416
        box = float(box_diff.max()) * cpu.net_size[0] if box_diff.numel() else 0.0
        problems = [
            f"picture {i}: {p}"
            for i, (ours, ref) in enumerate(zip(gpu.detect(pictures), final_cpu, strict=True))
            for p in match_detections(ours, ref, 0.25)
        ]
        row.cuda = f"p max diff {prob:.2g}, box {box:.2g} px, {len(problems)} unmatched boxes"
        row.ok = prob <= DET_PROB_ATOL and box <= DET_BOX_ATOL_PX and not problems
        row.data = {"prob_max_diff": prob, "box_max_diff_px": box, "unmatched": problems}
        rows.append(row)
        del gpu

    if not timing:
        return rows
    # Throughput of the network (letterboxed batch in host memory -> device -> boxes).
    cuda_detector = Detector.from_files(*files, device="cuda") if cuda_ready() else None
    for b in sorted(set(sizes.det_batches) | set(sizes.det_cpu_batches)):
        batch_b = torch.cat([batch] * (b // len(batch) + 1))[:b]
        row = Row("detection", f"network throughput, batch {b} (float16 on CUDA)")
        cpu_rate = None
        if b in sizes.det_cpu_batches:
            cpu.forward(batch_b)  # warm-up
            seconds = min(
                timed(lambda: cpu.forward(batch_b), "cpu")[0]  # noqa: B023
                for _ in range(sizes.det_cpu_repeats)
            )
            cpu_rate = b / seconds
            row.cpu = f"{cpu_rate:.3g} pictures/s"
        if cuda_detector is None:
            row.skipped = "no CUDA"
        elif b in sizes.det_batches:
            for _ in range(3):
                cuda_detector.forward(batch_b)  # warm-up: cuDNN picks kernels per shape
            runs = [
                timed(lambda: cuda_detector.forward(batch_b), "cuda")  # noqa: B023
                for _ in range(sizes.det_repeats)
            ]
            seconds = sorted(r[0] for r in runs)[len(runs) // 2]  # the median run
            rate, peak = b / seconds, max(r[1] for r in runs)
            row.cuda = f"{rate:.4g} pictures/s, peak {peak:.0f} MiB"
            row.limit = f"CUDA/CPU {ratio(rate, cpu_rate)}" if cpu_rate else ""
            row.data = {"batch": b, "cuda_per_s": rate, "cpu_per_s": cpu_rate, "peak_mib": peak}
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- playground


def playground_rows(sizes: Sizes, timing: bool = True) -> list[Row]:
    """The section's agreement rows, then (`timing`) its timings."""
    from playground.datasets import dataset_load
    from playground.netspec import build
    from playground.presets import preset
    from playground.trainer import TrainConfig, train

    data = dataset_load("shapes", max_samples=sizes.train_samples)
    rows: list[Row] = []

    # One SGD step from the same weights on the same batch: the loss and the weight update.
    step_data = type(data)(
        data.name,
        data.classes,
        data.train_x[:64],
        data.train_y[:64],
        data.val_x[:64],
        data.val_y[:64],
    )

    def one_step(device: str) -> tuple[float, dict]:
        torch.manual_seed(0)
        model = build(preset("lenet5", data.input_shape), data.input_shape, len(data.classes))
        start: dict[str, torch.Tensor] = {}

        def first_event(event: dict) -> None:  # sent after the trainer's initialisation
            if not start:
                start.update({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})

        torch.manual_seed(0)  # the trainer's initialisation draws from the global RNG
        config = TrainConfig(
            optimizer="sgd", lr=0.1, momentum=0.0, batch_size=64, epochs=1, device=device
        )
        result = train(model, step_data, config, on_event=first_event)
        after = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        return result.train_loss, {k: after[k] - start[k] for k in start}

    loss_cpu, update_cpu = one_step("cpu")
    row = Row(
        "playground",
        "one SGD training step of LeNet-5, CUDA vs CPU",
        cpu=f"loss {loss_cpu:.5g}",
        limit=f"loss <= {pct(TRAIN_LOSS_RTOL)}, update <= {pct(TRAIN_UPDATE_RTOL)}",
    )
    if not cuda_ready():
        row.skipped = "no CUDA"
    else:
        loss_cuda, update_cuda = one_step("cuda")
        weights = [k for k, v in update_cpu.items() if v.is_floating_point() and v.abs().max() > 0]
        update = max(
            float((update_cuda[k] - update_cpu[k]).abs().max() / update_cpu[k].abs().max())
            for k in weights
        )
        row.cuda = f"loss {loss_cuda:.5g}, update max diff {pct(update)}"
        row.ok = rel(loss_cuda, loss_cpu) <= TRAIN_LOSS_RTOL and update <= TRAIN_UPDATE_RTOL
        row.data = {"loss_cpu": loss_cpu, "loss_cuda": loss_cuda, "update_max_rel": update}
    rows.append(row)

    if not timing:
        return rows

    # Epoch time with the live view on, as the worker trains; the first epoch is warm-up.
    def epochs(name: str, device: str, count: int) -> tuple[float, float]:
        torch.manual_seed(0)
        model = build(preset(name, data.input_shape), data.input_shape, len(data.classes))
        config = TrainConfig(batch_size=64, epochs=count, device=device)
        seconds, peak, result = timed(
            lambda: train(model, data, config, on_event=json.dumps), device
        )
        marks = [0.0] + [e["seconds"] for e in result.history]
        return (marks[-1] - marks[1]) / (count - 1), peak

    for name in ("lenet5", "resnet_small"):
        what = f"{name} epoch, {len(data.train_y)} shapes 16x16, batch 64, live view on"
        cpu_epoch, _ = epochs(name, "cpu", sizes.train_cpu_epochs)
        row = Row("playground", what, cpu=f"{ms(cpu_epoch)}/epoch")
        if not cuda_ready():
            row.skipped = "no CUDA"
        else:
            cuda_epoch, peak = epochs(name, "cuda", sizes.train_epochs)
            row.cuda = f"{ms(cuda_epoch)}/epoch, peak {peak:.0f} MiB"
            row.limit = f"CPU/CUDA {ratio(cpu_epoch, cuda_epoch)}"
            row.data = {"cpu_epoch_s": cpu_epoch, "cuda_epoch_s": cuda_epoch, "peak_mib": peak}
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- running


def imports_row() -> Row:
    """Which non-engine packages importing the engines pulled in. Django's ORM, app registry
    and settings must not be among them (where Celery is installed, `webapp/__init__.py`
    brings it, and Celery and kombu import a few Django utilities: that is allowed)."""
    loaded = [name for name, module in sys.modules.items() if module is not None]
    pulled = sorted({m.split(".")[0] for m in loaded} & set(NOT_ENGINE))
    django_parts = sorted(m for m in loaded if m.startswith(("django.db", "django.apps")))
    settings = sys.modules.get("django.conf")
    configured = bool(settings and settings.settings.configured)
    return Row(
        "imports",
        "engine modules use no Django ORM, apps or settings",
        cpu=f"pulled in: {', '.join(pulled) or 'nothing'}",
        ok=not django_parts and not configured,
        data={
            "pulled_in": pulled,
            "django_orm_modules": django_parts,
            "django_settings_configured": configured,
        },
    )


def guarded(section: str, make: Callable[[Sizes], list[Row]], sizes: Sizes) -> list[Row]:
    """A section's rows, or one failed row with the error when the section crashed."""
    try:
        return make(sizes)
    except Exception as exc:  # a crash on CUDA is a finding: report it, go on
        traceback.print_exc()
        return [
            Row(
                section,
                "section crashed",
                ok=False,
                cuda=f"{type(exc).__name__}: {exc}",
                data={"traceback": traceback.format_exc()},
            )
        ]


def environment() -> dict:
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "cuda": cuda_ready(),
        # what decides the kernels: the engines set cudnn.benchmark themselves (style
        # transfer turns it on for the whole process); cuDNN convolutions may use TF32
        "cudnn_benchmark_at_end": torch.backends.cudnn.benchmark,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_precision": torch.get_float32_matmul_precision(),
    }
    if cuda_ready():
        props = torch.cuda.get_device_properties(0)
        info.update(
            gpu=props.name,
            gpu_memory_mib=props.total_memory // 2**20,
            cuda_version=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
        )
    return info


def print_table(rows: list[Row], env: dict) -> None:
    device = f"{env['gpu']} ({env['gpu_memory_mib']} MiB)" if env["cuda"] else "no CUDA"
    print(f"\nGPU check: torch {env['torch']}, {env['cpu_threads']} CPU threads, {device}")
    heads = ("section", "what", "CPU", "CUDA", "limit / ratio", "result")
    lines = [
        (
            r.section,
            r.what,
            r.cpu,
            r.cuda or r.skipped,
            r.limit,
            {True: "ok", False: "FAIL", None: "skipped" if r.skipped else "-"}[r.ok],
        )
        for r in rows
    ]
    widths = [min(60, max(len(h), *(len(line[i]) for line in lines))) for i, h in enumerate(heads)]
    print(" | ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for line in lines:
        print(" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))


def write_json(report: dict, name: str) -> list[Path]:
    text = json.dumps(report, indent=1, default=str)
    targets = [ROOT / "bench" / "results" / name]
    if os.environ.get("OUT"):
        targets.append(Path(os.environ["OUT"]) / name)
    for path in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (minutes on a CPU)")
    parser.add_argument("--part", choices=("engines", "worker", "all"), default="all")
    parser.add_argument("--strict", action="store_true", help="a skipped check fails too")
    parser.add_argument("--json", default="gpu_check.json", help="file name of the report")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    started = time.perf_counter()
    rows: list[Row] = []
    if args.part in ("engines", "all"):
        import_engines_without_celery()
        for module in ENGINE_MODULES:
            __import__(module)
        rows.append(imports_row())
        rows += guarded("style", style_rows, sizes)
        rows += guarded("detection", detection_rows, sizes)
        rows += guarded("playground", playground_rows, sizes)
    env = environment()  # after the engines: CUDA is first touched by the checks themselves
    if args.part == "all":  # a report so far, in case the worker half hangs past a timeout
        write_json(summary(rows, env, args, started), args.json)
    if args.part in ("worker", "all"):
        from bench.gpu_worker import worker_rows  # Django, Celery and Redis from here on

        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()  # the worker's child gets the GPU's memory
        rows += guarded(
            "worker", lambda s: [Row(**r) for r in worker_rows(quick=args.quick)], sizes
        )
    report = summary(rows, env, args, started)
    print_table(rows, env)
    paths = write_json(report, args.json)
    skipped = sum(bool(r.skipped) and r.ok is None for r in rows)
    strict = " (--strict: skipped checks fail the run)" if args.strict and skipped else ""
    print(
        f"\n{len(rows)} rows: {sum(r.ok is False for r in rows)} failed, {skipped} "
        f"skipped{strict}; {report['seconds']} s; JSON: " + ", ".join(str(p) for p in paths)
    )
    if not env["cuda"]:
        print("no CUDA: the CUDA half was not run (the CPU half above was).")
    return 0 if report["ok"] else 1


def summary(rows: list[Row], env: dict, args: argparse.Namespace, started: float) -> dict:
    """The JSON report; `ok` is False on any failed row (and, with --strict, skipped one)."""
    skipped = [r for r in rows if r.skipped and r.ok is None]
    failed = [r for r in rows if r.ok is False] + (skipped if args.strict else [])
    return {
        "environment": env,
        "quick": args.quick,
        "part": args.part,
        "seconds": round(time.perf_counter() - started, 1),
        "ok": not failed,
        "rows": [asdict(r) for r in rows],
    }


if __name__ == "__main__":
    sys.exit(main())
