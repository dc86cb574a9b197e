"""The tasks beyond classification (issue 12): for each task's preset and defaults, the
time to reach the issue's target and the value reached; and the live view's overhead
against a bare PyTorch loop with the same loss, as bench_playground.py measures it for
classification.

    PYTHONPATH=. .venv/bin/python -W ignore bench/bench_tasks.py [--tasks segment,verify]
        [--repeats 3] [--threads 1] [--skip-overhead] [--skip-targets] [--pair]
        [--batch-hard]

Targets (issue 12): localisation mean IoU ≥ 0.75 on held-out scenes; segmentation mean
IoU ≥ 0.8; landmarks mean error ≤ 1.5 px at 32 px; verification ≥ 95 % pair accuracy on
held-out digit classes. A run stops at the first epoch that reaches its target (or after
its epoch budget); "seconds" is training time including each epoch's validation.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from playground.datasets import Augment
from playground.netspec import build
from playground.objectives import task_make
from playground.scenes import scene_load
from playground.taskcatalogue import TASK_PRESETS, TASK_TRAINING, head_for
from playground.trainer import TrainConfig, train

# task -> (preset, dataset, pictures, (name of the value, target, higher is better));
# the settings are the preset's own (taskcatalogue.TASK_TRAINING)
RUNS = {
    "localise": ("localiser", "boxes", 4000, ("val_metric", 0.75, True)),
    "landmarks": ("landmarker", "faces", 4000, ("val_metric", 1.5, False)),
    "segment": ("unet", "overlaps", 2000, ("val_metric", 0.8, True)),
    "verify": ("siamese", "mnist5k_heldout", None, ("val_accuracy", 0.95, True)),
}


def _settings(preset_name: str) -> dict:
    t = TASK_TRAINING[preset_name]
    settings = {k: t[k] for k in ("optimizer", "lr", "batch_size", "epochs", "schedule")}
    return {**settings, "augment": Augment(**t["augment"])}


def _setup(task_name: str, loss: str = "triplet", mining: str = "all"):
    preset_name, dataset, pictures, goal = RUNS[task_name]
    settings = _settings(preset_name)
    data = scene_load(dataset, max_samples=pictures, seed=0)
    task = task_make(task_name, side=data.input_shape[-1], loss=loss, mining=mining)
    spec = TASK_PRESETS[preset_name][2](data.input_shape)
    model = build(
        spec, data.input_shape, task.outputs(data.classes), head=head_for(task_name, loss)
    )
    return data, task, model, settings, goal


def _variant(task_name: str, loss: str, mining: str) -> str:
    if task_name != "verify":
        return ""
    return " (pair)" if loss == "pair" else f" (triplet, {mining} triplets)"


def time_to_target(task_name: str, loss: str = "triplet", mining: str = "all") -> dict:
    data, task, model, settings, (key, target, higher) = _setup(task_name, loss, mining)
    config = TrainConfig(seed=0, **settings)
    reached: dict = {}
    best: dict = {}

    def on_event(event: dict) -> None:
        if event["type"] != "epoch":
            return
        value = event[key]
        if not best or (value > best[key] if higher else value < best[key]):
            best.update(event)
        if not reached and (value >= target if higher else value <= target):
            reached.update(event)

    result = train(
        model, data, config, on_event=on_event, task=task,
        controls=lambda: [{"command": "stop"}] if reached else [],
    )  # fmt: skip
    return {
        "task": task_name + _variant(task_name, loss, mining),
        "preset": RUNS[task_name][0], "dataset": RUNS[task_name][1],
        "train/val pictures": f"{len(data.train_y)}/{len(data.val_y)}",
        "target": f"{key} {'≥' if higher else '≤'} {target}",
        "reached": bool(reached),
        "epoch": reached.get("epoch"), "seconds": round(reached.get("seconds", result.seconds), 1),
        "value": round((reached or best)[key], 4), "metric": best.get("metric"),
        "best": round(best[key], 4), "best_epoch": best["epoch"],
        "val_accuracy": round((reached or best)["val_accuracy"], 4),
        "val_metric": round((reached or best)["val_metric"], 4),
        "last": {k: round(result.history[-1][k], 4) for k in ("val_accuracy", "val_metric")},
    }  # fmt: skip


def bare_loop(task, model, data, config: TrainConfig) -> tuple[float, float]:
    """A plain PyTorch loop with the task's loss and its per-epoch validation.
    (wall seconds, CPU seconds of this process)."""
    torch.manual_seed(config.seed)
    model.train()
    task.setup(model, data)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    shuffle = torch.Generator().manual_seed(config.seed)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(config.epochs):
        order = torch.randperm(len(data.train_y), generator=shuffle)
        for i in range(0, len(order), config.batch_size):
            idx = order[i : i + config.batch_size]
            loss = task.loss(model(data.train_x[idx]), data.train_y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        task.evaluate(model, data.val_x, data.val_y)
    return time.perf_counter() - start, time.process_time() - cpu


def overhead(task_name: str, repeats: int, epochs: int) -> dict:
    """Paired runs, alternating: ours with every live event JSON-encoded vs the bare loop.
    Wall time and CPU time both: on a machine shared with other work the CPU time of this
    (one-thread) process is far less disturbed than the wall clock."""
    data, task, model, settings, _ = _setup(task_name)
    config = TrainConfig(optimizer="adam", lr=settings["lr"], batch_size=settings["batch_size"],
                         epochs=epochs, seed=0)  # fmt: skip
    samples = len(data.train_y) * epochs
    start_weights = {k: v.clone() for k, v in model.state_dict().items()}
    bare, live, bare_cpu, live_cpu, sizes, counts = [], [], [], [], [], {}

    def on_event(event: dict) -> None:
        sizes.append(len(json.dumps(event)))
        counts[event["type"]] = counts.get(event["type"], 0) + 1

    for _ in range(repeats):
        model.load_state_dict(start_weights)
        wall, cpu = bare_loop(task, model, data, config)
        bare.append(samples / wall)
        bare_cpu.append(samples / cpu)
        model.load_state_dict(start_weights)
        t, c = time.perf_counter(), time.process_time()
        train(model, data, config, on_event=on_event, task=task)
        live.append(samples / (time.perf_counter() - t))
        live_cpu.append(samples / (time.process_time() - c))
    ratios = [b / lv for b, lv in zip(bare, live, strict=True)]
    cpu_ratios = [b / lv for b, lv in zip(bare_cpu, live_cpu, strict=True)]
    return {
        "task": task_name, "epochs": epochs,
        "bare_samples_per_s": round(statistics.median(bare)),
        "live_samples_per_s": round(statistics.median(live)),
        "overhead_percent": round(100 * (statistics.median(ratios) - 1), 2),
        "cpu_overhead_percent": round(100 * (statistics.median(cpu_ratios) - 1), 2),
        "bare_cpu_runs": [round(x) for x in bare_cpu],
        "live_cpu_runs": [round(x) for x in live_cpu],
        "bare_runs": [round(x) for x in bare], "live_runs": [round(x) for x in live],
        "events": counts, "largest_event_bytes": max(sizes),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default=",".join(RUNS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--overhead-epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-targets", action="store_true")
    parser.add_argument("--pair", action="store_true", help="also verify with the pair loss")
    parser.add_argument(
        "--batch-hard", action="store_true", help="also verify with batch-hard triplet mining"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.tasks.split(","):
        if not args.skip_targets:
            print(json.dumps(time_to_target(name)), flush=True)
            if name == "verify" and args.pair:
                print(json.dumps(time_to_target(name, "pair")), flush=True)
            if name == "verify" and args.batch_hard:
                print(json.dumps(time_to_target(name, "triplet", "hard")), flush=True)
        if not args.skip_overhead:
            print(json.dumps(overhead(name, args.repeats, args.overhead_epochs)), flush=True)


if __name__ == "__main__":
    main()
