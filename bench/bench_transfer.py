"""Transfer learning from VGG19 vs training the same net from scratch, on little data;
the feature cache vs recomputing the frozen trunk every epoch; presets with their own
training settings on MNIST-5k; activation maximisation of one VGG19 unit.

    PYTHONPATH=. .venv/bin/python bench/bench_transfer.py transfer [--per-class 10,30,100]
    PYTHONPATH=. .venv/bin/python bench/bench_transfer.py cache
    PYTHONPATH=. .venv/bin/python bench/bench_transfer.py presets [--presets lenet5,resnet_small]
    PYTHONPATH=. .venv/bin/python bench/bench_transfer.py unit [--device cuda]

transfer: MNIST-5k, the same validation pictures (30 per class) and seed for every run;
          scratch (the peer) / frozen / fine-tune on 10, 30 and 100 training pictures per
          class; accuracy after the last epoch and each mode's ratio to scratch.
cache:    frozen mode, 10 epochs on 1,000 pictures: our cached features vs a loop that
          runs the frozen trunk on every batch of every epoch (the peer), in this process.
presets:  each preset with its own settings (playground.presets.TRAINING) on MNIST-5k,
          1,000 held out; the peer is the settings every preset had before (Adam 1e-3,
          batch 64, no augmentation, constant rate) for the same number of epochs.
unit:     activation maximisation of relu4_1 channel 10 at 128 px, 128 steps.
Times are wall-clock on a shared machine: compare ratios measured in one run.
"""

import argparse
import json
import time

import torch
import torch.nn.functional as F

from playground.datasets import Augment, dataset_load
from playground.netspec import build
from playground.presets import preset, training
from playground.trainer import TrainConfig, train
from playground.transfer.engine import (
    FeatureCache,
    TransferConfig,
    compare_modes,
    per_class_subset,
    transfer_build,
    transfer_train,
)


def small_val(data, per_class: int):
    """The same dataset with only `per_class` validation pictures of each class."""
    make = type(data)
    swapped = make(data.name, data.classes, data.val_x, data.val_y, data.train_x, data.train_y)
    kept = per_class_subset(swapped, per_class)
    return make(data.name, data.classes, data.train_x, data.train_y, kept.train_x, kept.train_y)


def bench_transfer(args) -> None:
    data = small_val(dataset_load("mnist5k"), 30)
    base = TransferConfig(cut=args.cut, image_size=32, epochs=args.epochs)
    per_class = tuple(int(n) for n in args.per_class.split(","))
    rows = []

    def show(row):
        rows.append(row)
        print(f"{row['per_class']:>4}/class {row['mode']:<9} val acc {row['val_accuracy']:.3f} "
              f"({row['seconds']:.0f} s)", flush=True)  # fmt: skip

    compare_modes(data, base, per_class, on_result=show)
    print("\nper class | scratch | frozen (ratio) | finetune (ratio)")
    for n in per_class:
        acc = {r["mode"]: r["val_accuracy"] for r in rows if r["per_class"] == n}
        s = acc["scratch"]
        print(f"{n:>9} | {s:.3f}   | {acc['frozen']:.3f} ({acc['frozen'] / s:.2f}) | "
              f"{acc['finetune']:.3f} ({acc['finetune'] / s:.2f})")  # fmt: skip
    print(json.dumps([{k: r[k] for k in ("per_class", "mode", "val_accuracy", "seconds")}
                      for r in rows]))  # fmt: skip


def bench_cache(args) -> None:
    data = per_class_subset(dataset_load("mnist5k"), 100)
    config = TransferConfig(mode="frozen", cut=args.cut, image_size=32, epochs=10)
    net = transfer_build(config, 10, input_channels=1)
    start = time.perf_counter()
    ours = transfer_train(net, data, FeatureCache())
    cached_s = time.perf_counter() - start

    peer = transfer_build(config, 10, input_channels=1)  # same seed, same start
    optimizer = torch.optim.Adam(peer.head.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()
    with torch.no_grad():
        peer.head[0].factor.copy_(net.head[0].factor)
    for _ in range(config.epochs):
        order = torch.randperm(len(data.train_y), generator=generator)
        peer.head.train()
        for i in range(0, len(order), config.batch_size):
            idx = order[i : i + config.batch_size]
            with torch.no_grad():
                features = peer.layers(data.train_x[idx])  # the trunk on every batch
            loss = F.cross_entropy(peer.head(features), data.train_y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        peer.eval()
        with torch.no_grad():
            (peer(data.val_x).argmax(1) == data.val_y).float().mean()
    peer_s = time.perf_counter() - start
    print(f"frozen, 10 epochs, {len(data.train_y)} + {len(data.val_y)} pictures: cached "
          f"{cached_s:.1f} s, recomputing {peer_s:.1f} s, ratio {cached_s / peer_s:.2f} "
          f"(val acc {ours.val_accuracy:.3f})")  # fmt: skip


def bench_presets(args) -> None:
    data = dataset_load("mnist5k")
    for name in args.presets.split(","):
        settings = training(name)
        for label, config in (
            ("preset", TrainConfig(
                optimizer=settings["optimizer"], lr=settings["lr"],
                batch_size=settings["batch_size"], epochs=settings["epochs"],
                schedule=settings["schedule"], augment=Augment(**settings["augment"]))),
            ("old defaults", TrainConfig(epochs=settings["epochs"])),
        ):  # fmt: skip
            if label == "old defaults" and args.no_peer:
                continue
            model = build(preset(name, data.input_shape), data.input_shape, 10)
            start = time.perf_counter()
            result = train(model, data, config)
            print(f"{name:<16} {label:<13} val acc {result.val_accuracy:.4f} "
                  f"(best epoch {max(h['val_accuracy'] for h in result.history):.4f}) "
                  f"{config.epochs} epochs, {time.perf_counter() - start:.0f} s",
                  flush=True)  # fmt: skip


def bench_unit(args) -> None:
    from playground.explain.engine import maximize_unit
    from styletransfer.vgg import load_vgg19
    from webapp.modelfiles import model_path

    vgg = load_vgg19(model_path("vgg19_caffe_q.bin"), last_layer="relu4_1").to(args.device)
    for _ in range(2 if args.device != "cpu" else 1):  # the first CUDA run warms up
        start = time.perf_counter()
        _, trace = maximize_unit(lambda p: vgg(p, ("relu4_1",))["relu4_1"], 10, size=128,
                                 steps=128, device=args.device)  # fmt: skip
        if args.device != "cpu":
            torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print(f"relu4_1:10, 128 px, 128 steps on {args.device}: {seconds:.1f} s "
          f"({seconds / 128 * 1000:.0f} ms/step), activation {trace[0]:.3g} -> {trace[-1]:.3g}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("transfer", "cache", "presets", "unit"))
    parser.add_argument("--per-class", default="10,30,100")
    parser.add_argument("--cut", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--presets", default="lenet5,resnet_small")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    {"transfer": bench_transfer, "cache": bench_cache, "presets": bench_presets,
     "unit": bench_unit}[args.what](args)  # fmt: skip
