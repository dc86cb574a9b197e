"""Training throughput with the live view on vs a bare PyTorch loop, LeNet-5 time-to-95%,
and (--cost) the measurements behind the cost estimate of playground/cost.py.

    PYTHONPATH=. .venv/bin/python bench/bench_playground.py [--repeats 5] [--threads 1]
    PYTHONPATH=. .venv/bin/python bench/bench_playground.py --cost

Both loops run in this process on the same data, model, initial weights, optimiser and
batch order, alternating, so machine load affects both alike; the ratio is what counts.
--cost trains each net of COST_RUNS once in a fresh process (one torch thread) and prints
its peak memory growth (resident, sampled every 5 ms) and CPU time next to the estimate,
then the run-time constants refitted (non-negative least squares on relative error).
"""

import argparse
import json
import math
import statistics
import subprocess
import sys
import threading
import time

import torch
import torch.nn.functional as F

from playground import cost
from playground.datasets import dataset_load, split
from playground.netspec import build, summarize
from playground.presets import PRESETS, preset
from playground.trainer import TrainConfig, evaluate, train


def bare_loop(model, data, config: TrainConfig) -> float:
    """The loop a PyTorch user would write: shuffle, step, evaluate each epoch. Returns seconds."""
    torch.manual_seed(config.seed)
    model.mean.copy_(data.mean_std()[0])
    model.std.copy_(data.mean_std()[1])
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    shuffle = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()
    for _ in range(config.epochs):
        order = torch.randperm(len(data.train_y), generator=shuffle)
        for i in range(0, len(order), config.batch_size):
            idx = order[i : i + config.batch_size]
            loss = F.cross_entropy(model(data.train_x[idx]), data.train_y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        evaluate(model, data.val_x, data.val_y)
    return time.perf_counter() - start


def live_loop(model, data, config: TrainConfig) -> tuple[float, dict]:
    """Our trainer with the live view at its default rates; every event is JSON-encoded."""
    counts: dict[str, int] = {}
    sizes: list[int] = []

    def on_event(event: dict) -> None:
        sizes.append(len(json.dumps(event)))
        counts[event["type"]] = counts.get(event["type"], 0) + 1

    start = time.perf_counter()
    train(model, data, config, on_event=on_event)
    return time.perf_counter() - start, {"events": counts, "largest_event_bytes": max(sizes)}


def throughput(name: str, dataset: str, epochs: int, repeats: int) -> dict:
    data = dataset_load(dataset)
    spec = preset(name, data.input_shape)
    config = TrainConfig(optimizer="adam", lr=1e-3, batch_size=64, epochs=epochs, init="default")
    samples = len(data.train_y) * epochs
    bare, live, info = [], [], {}
    for _ in range(repeats):
        torch.manual_seed(0)
        bare.append(
            samples / bare_loop(build(spec, data.input_shape, len(data.classes)), data, config)
        )
        torch.manual_seed(0)
        seconds, info = live_loop(build(spec, data.input_shape, len(data.classes)), data, config)
        live.append(samples / seconds)
    b, lv = statistics.median(bare), statistics.median(live)
    r = [x / y for x, y in zip(bare, live, strict=True)]  # paired runs: load hits both alike
    return {
        "model": name,
        "dataset": dataset,
        "samples_per_run": samples,
        "bare_samples_per_s": round(b),
        "live_samples_per_s": round(lv),
        "overhead_percent": round(100 * (statistics.median(r) - 1), 2),
        "bare_runs": [round(x) for x in bare],
        "live_runs": [round(x) for x in live],
        **info,
    }


def time_to_95() -> dict:
    data = dataset_load("digits")
    model = build(preset("lenet5", data.input_shape), data.input_shape, 10)
    reached: dict = {}

    def on_epoch(event: dict) -> None:
        if event["type"] == "epoch" and event["val_accuracy"] >= 0.95 and not reached:
            reached.update(event)

    config = TrainConfig(optimizer="adam", lr=3e-3, batch_size=32, epochs=60, seed=0)
    train(
        model,
        data,
        config,
        on_event=on_epoch,
        controls=lambda: [{"command": "stop"}] if reached else [],
    )
    return {
        "reached_95": bool(reached),
        "epoch": reached.get("epoch"),
        "seconds": round(reached.get("seconds", float("nan")), 2),
        "val_accuracy": reached.get("val_accuracy"),
    }


# issue 10's net: a 512-filter 1×1 conv and 29 ReLUs, 3.93 M activation floats per picture
WIDE_RELUS = [{"type": "conv2d", "filters": 512, "kernel": 1}] + [{"type": "relu"}] * 29
WIDE_CONVS = [
    {"type": "conv2d", "filters": 128, "kernel": 3, "padding": 1}, {"type": "relu"},
    {"type": "conv2d", "filters": 128, "kernel": 3, "padding": 1}, {"type": "relu"},
    {"type": "maxpool", "kernel": 2},
    {"type": "conv2d", "filters": 128, "kernel": 3, "padding": 1}, {"type": "relu"},
    {"type": "globalavgpool"},
]  # fmt: skip
# (net, picture shape (C, H, W) or a dataset name, pictures, batch, epochs)
COST_RUNS = [
    *((name, "stripes", 1000, batch, 1) for name in PRESETS for batch in (64, 256)),
    *((name, (3, 32, 32), 1000, 256, 1) for name in PRESETS),
    ("lenet5", "digits", None, 32, 3),
    ("lenet5", (1, 28, 28), 20_000, 64, 1),
    ("vgg_small", (3, 32, 32), 3000, 64, 2),
    ("resnet_small", (3, 32, 32), 2000, 64, 2),
    ("alexnet_small", (1, 28, 28), 10_000, 128, 1),
    (WIDE_CONVS, (3, 32, 32), 1500, 32, 1),
    *((WIDE_RELUS, "stripes", 2000 if batch == 16 else 1000, batch, 1) for batch in (16, 128, 384)),
]


def _resident_bytes() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))


def cost_measure(run: list) -> dict:
    """One COST_RUNS entry trained in this process: peak resident growth and CPU time."""
    net, where, pictures, batch, epochs = run
    torch.set_num_threads(1)
    start, peak, done = _resident_bytes(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], _resident_bytes() - start)

    threading.Thread(target=sample, daemon=True).start()
    if isinstance(where, str):
        data = dataset_load(where, max_samples=pictures)
    else:
        generator = torch.Generator().manual_seed(0)
        x = torch.rand((pictures, *where), generator=generator)
        y = torch.randint(0, 10, (pictures,), generator=generator)
        data = split("random", [str(i) for i in range(10)], x, y, 0.2, 0)
    spec = preset(net, data.input_shape) if isinstance(net, str) else net
    model = build(spec, data.input_shape, len(data.classes))
    cpu = time.thread_time()
    train(model, data, TrainConfig(batch_size=batch, epochs=epochs), on_event=lambda e: None)
    cpu = time.thread_time() - cpu
    done.set()
    return {
        "peak_mb": max(peak[0], _resident_bytes() - start) / 2**20,
        "cpu_s": cpu,
        "train": len(data.train_y),
        "val": len(data.val_y),
        "shape": data.input_shape,
        "classes": len(data.classes),
    }


def cost_table() -> None:
    """Each COST_RUNS entry measured in a fresh process, next to playground/cost.py."""
    features, seconds = [], []
    for run in COST_RUNS:
        out = subprocess.run(
            [sys.executable, __file__, "--measure", json.dumps(run)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        measured = json.loads(out.splitlines()[-1])
        net, _, _, batch, epochs = run
        spec = preset(net, measured["shape"]) if isinstance(net, str) else net
        summary = summarize(spec, measured["shape"], measured["classes"])
        pictures = (measured["train"], measured["val"])
        memory = cost.memory_mb(summary, pictures=pictures, batch_size=batch, optimizer="adam")
        runtime = cost.runtime_s(
            summary, pictures=pictures, batch_size=batch, epochs=epochs, device="cpu"
        )
        name = net if isinstance(net, str) else f"{len(net)}-layer net"
        row = {"net": name, "shape": measured["shape"], "pictures": pictures, "batch": batch,
               "epochs": epochs, "peak_mb": round(measured["peak_mb"]),
               "estimate_mb": round(memory), "cpu_s": round(measured["cpu_s"], 2),
               "estimate_s": round(runtime, 2)}  # fmt: skip
        print(json.dumps(row), flush=True)
        trained = epochs * (3 * pictures[0] + pictures[1])
        steps = epochs * math.ceil(pictures[0] / batch)
        mult_adds, activations = summary.total_mult_adds, summary.activation_floats
        features.append([steps, trained * mult_adds, trained * activations, 1.0])
        seconds.append(measured["cpu_s"])
    from scipy.optimize import nnls

    weights = [1 / s for s in seconds]  # relative error: small and large runs count alike
    fitted, _ = nnls(
        [[f * w for f in row] for row, w in zip(features, weights, strict=True)],
        [s * w for s, w in zip(seconds, weights, strict=True)],
    )
    print(json.dumps(dict(zip(("STEP_S", "MAC_S", "ACT_S", "BASE_S"), fitted.tolist(),
                              strict=True))))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both loops")
    parser.add_argument("--cost", action="store_true", help="measure the cost estimate's runs")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # one cost run, in a child
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(cost_measure(json.loads(args.measure))))
        return
    if args.cost:
        cost_table()
        return
    torch.set_num_threads(args.threads)
    print(json.dumps({"torch": torch.__version__, "threads": args.threads}))
    for name, dataset, epochs in (("lenet5", "shapes", 30), ("resnet_small", "shapes", 3)):
        print(json.dumps(throughput(name, dataset, epochs, args.repeats)), flush=True)
    print(json.dumps({"lenet5_digits_time_to_95": time_to_95()}), flush=True)


if __name__ == "__main__":
    main()
