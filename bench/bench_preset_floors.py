"""Every classification preset on every built-in dataset it accepts, trained with its
defaults, against the floor docs/benchmarks-playground.md states for it.

    PYTHONPATH=. .venv/bin/python -W ignore bench/bench_preset_floors.py --threads 1
    PYTHONPATH=. .venv/bin/python -W ignore bench/bench_preset_floors.py \\
        --presets lenet5,vgg_small --datasets digits,shapes [--no-augment] [--json]

"Its defaults" are what the builder fills in and the worker trains with: the preset's net
for the dataset's picture shape (playground.presets.preset) and its training settings
with the augmentation scaled to that shape (presets.training(name, shape)); the dataset
as the worker loads it (20 % held out, seed 0); the same engine (playground.trainer.train).
A dataset that is not on this machine (the torchvision sets before `fetch_datasets`) is
listed as not run. The last line is the table in Markdown.
"""

import argparse
import json
import time

import torch

from playground.datasets import DATASETS, Augment, DatasetError, dataset_load
from playground.netspec import build
from playground.presets import PRESETS, preset, training
from playground.trainer import TrainConfig, train

# The floor each cell must reach (final validation accuracy, seed 0), by dataset: chance is
# 25 % on the 4-class generated sets and 10 % on the others. The deep sigmoid net is the
# vanishing-gradient lesson's net that is meant not to learn: it is listed with no floor,
# its row the lesson's observation rather than a failure.
FLOORS: dict[str, float] = {
    "stripes": 0.95,
    "shapes": 0.90,
    "digits": 0.93,
    "mnist5k": 0.95,
    "mnist": 0.97,
    "fashion_mnist": 0.85,
    "cifar10": 0.50,
}
NO_FLOOR = {"deep_sigmoid"}  # vanishes by design (learn's lesson 9)


def cell(name: str, dataset: str, *, augment: bool, seed: int) -> dict:
    """Train one preset on one dataset with its defaults; its final numbers."""
    data = dataset_load(dataset, seed=seed)
    settings = training(name, data.input_shape)
    config = TrainConfig(
        optimizer=settings["optimizer"], lr=settings["lr"], batch_size=settings["batch_size"],
        epochs=settings["epochs"], schedule=settings["schedule"], seed=seed,
        augment=Augment(**settings["augment"]) if augment else Augment(),
    )  # fmt: skip
    model = build(preset(name, data.input_shape), data.input_shape, len(data.classes))
    started = time.perf_counter()
    result = train(model, data, config)
    floor = None if name in NO_FLOOR else FLOORS[dataset]
    return {
        "preset": name, "dataset": dataset, "val_accuracy": result.val_accuracy,
        "best": max(h["val_accuracy"] for h in result.history), "epochs": result.epochs,
        "train_accuracy": result.train_accuracy,
        "augment": config.augment.__dict__ if augment else {}, "floor": floor,
        "passed": None if floor is None else result.val_accuracy >= floor,
        "seconds": time.perf_counter() - started,
    }  # fmt: skip


def augment_text(augment: dict) -> str:
    moves = [f"shift ±{augment['shift']}"] if augment.get("shift") else []
    moves += [f"rotate ±{augment['rotate']:g}°"] if augment.get("rotate") else []
    return ", ".join(moves) or "none"


def table(rows: list[dict]) -> str:
    lines = [
        "| preset | dataset | augmentation | val accuracy (last epoch) | floor | |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['preset']} | {r['dataset']} | | not run: {r['skipped']} | | |")
            continue
        floor = "–" if r["floor"] is None else f"{r['floor']:.0%}"
        mark = "–" if r["passed"] is None else ("✔" if r["passed"] else "✘")
        lines.append(
            f"| {r['preset']} | {r['dataset']} | {augment_text(r['augment'])} | "
            f"{r['val_accuracy']:.1%} | {floor} | {mark} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-augment", action="store_true", help="train without augmentation")
    parser.add_argument("--json", action="store_true", help="one JSON line per cell")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for dataset in args.datasets.split(","):
        for name in args.presets.split(","):
            try:
                row = cell(name, dataset, augment=not args.no_augment, seed=args.seed)
            except DatasetError as exc:
                row = {"preset": name, "dataset": dataset, "skipped": str(exc)[:60]}
            rows.append(row)
            print(json.dumps(row) if args.json else table([row]).splitlines()[-1], flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
