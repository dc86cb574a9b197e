"""Training throughput with the live view on vs a bare PyTorch loop, and LeNet-5 time-to-95%.

    PYTHONPATH=. .venv/bin/python bench/bench_playground.py [--repeats 5] [--threads 1]

Both loops run in this process on the same data, model, initial weights, optimiser and
batch order, alternating, so machine load affects both alike; the ratio is what counts.
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from playground.datasets import dataset_load
from playground.netspec import build
from playground.presets import preset
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both loops")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps({"torch": torch.__version__, "threads": args.threads}))
    for name, dataset, epochs in (("lenet5", "shapes", 30), ("resnet_small", "shapes", 3)):
        print(json.dumps(throughput(name, dataset, epochs, args.repeats)), flush=True)
    print(json.dumps({"lenet5_digits_time_to_95": time_to_95()}), flush=True)


if __name__ == "__main__":
    main()
