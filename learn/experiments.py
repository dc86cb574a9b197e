"""The course's experiments, and the one place where the course meets the playground.

An experiment is two or more runs ("arms") that differ in one thing, queued with one
click through the playground's public services (`train_create`, `transfer_create`), and
a reading of what each run measured from the numbers the playground's worker stores:
Job.metrics["gradients"] (per-layer gradient norms, latest point last), Job.metrics
["epochs"] (per-epoch validation accuracy), Job.result["summary"], and a transfer run's
Job.result["transfer_rows"]. When the playground's kinds change, this module is what to
re-point.

Each experiment's defaults are the settings its test runs through the real worker
(tests/learn/test_experiments.py), so the promise in `see` is checked as it ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from playground.train import services as train
from playground.transfer import services as transfer
from webapp.models import ACTIVE_STATES, Job

NO_AUGMENT = {"hflip": False, "vflip": False, "rotate": 0.0, "shift": 0, "color": 0.0}
DIGITS = (1, 8, 8)  # scikit-learn's 8×8 digits: built in, 1,797 pictures, 10 classes


def _params(spec: list[dict], **over: Any) -> dict[str, Any]:
    """A classification run on the 8×8 digits with the builder's fields filled in."""
    return {
        "task": "classify", "spec": spec, "preset": "", "dataset": "digits", "image_size": 32,
        "max_samples": None, "val_fraction": 0.2, "optimizer": "adam", "lr": 1e-3,
        "batch_size": 64, "epochs": 3, "weight_decay": 0.0, "init": "default", "seed": 0,
        "schedule": "constant", "activation_sample": 0, "augment": dict(NO_AUGMENT),
        **over,
    }  # fmt: skip


def _conv(filters: int = 16) -> dict:
    return {"type": "conv2d", "filters": filters, "kernel": 3, "stride": 1, "padding": 1}


SMALL_NET = [_conv(8), {"type": "relu"}, {"type": "maxpool", "kernel": 2}, _conv(16),
             {"type": "relu"}, {"type": "flatten"}, {"type": "linear", "units": 32},
             {"type": "relu"}]  # fmt: skip
BN_RELU = [{"type": "batchnorm"}, {"type": "relu"}]
PLAIN_15 = [_conv(), *BN_RELU] + [_conv(), *BN_RELU] * 14 + [{"type": "globalavgpool"}]
RESIDUAL_15 = [_conv(), *BN_RELU] + [{"type": "residual", "filters": 16}] * 7 + [
    {"type": "globalavgpool"}]  # 1 + 7 × 2 = 15 convs, like PLAIN_15


@dataclass(frozen=True)
class Arm:
    label: str
    params: dict[str, Any]
    service: str = "train"  # the playground's train_create, or "transfer": transfer_create

    @property
    def settings(self) -> str:
        """The run's settings in a line, for the lesson page."""
        p = self.params
        if self.service == "transfer":
            t = p["transfer"]
            return (f"VGG19 to block {t['cut']}, {t['mode']}, {t['per_class'][0]} pictures "
                    f"per class of {p['dataset']}, {t['epochs']} epochs")
        return (f"{len(p['spec'])} layers on {p['dataset']}, {p['epochs']} epochs, "
                f"{p['optimizer']} at lr {p['lr']}, batch {p['batch_size']}, init {p['init']}")


def _vanishing() -> list[Arm]:
    return [Arm("deep sigmoid", _params(train.preset_spec(name="deep_sigmoid",
                                                               input_shape=DIGITS),
                                        preset="deep_sigmoid")),
            Arm("deep ReLU + batch norm", _params(train.preset_spec(
                name="deep_relu_bn", input_shape=DIGITS), preset="deep_relu_bn"))]  # fmt: skip


def _init() -> list[Arm]:
    over = {"lr": 3e-3, "batch_size": 32}
    return [Arm("all zeros", _params(SMALL_NET, init="zeros", **over)),
            Arm("He", _params(SMALL_NET, init="he", **over))]  # fmt: skip


def _residual() -> list[Arm]:
    over = {"lr": 3e-3, "batch_size": 32, "epochs": 2, "max_samples": 1000}
    return [Arm("plain, 15 convs", _params(PLAIN_15, **over)),
            Arm("residual, 15 convs", _params(RESIDUAL_15, **over))]  # fmt: skip


def _transfer() -> list[Arm]:
    def arm(label: str, mode: str) -> Arm:
        return Arm(label, {"dataset": "digits", "val_fraction": 0.2, "transfer": {
            "mode": mode, "cut": 2, "epochs": 10, "image_size": 32, "per_class": [10],
            "seed": 0}}, service="transfer")  # fmt: skip

    return [arm("from scratch", "scratch"), arm("frozen VGG19 features", "frozen")]


EXPERIMENTS = {"vanishing": _vanishing, "init": _init, "residual": _residual,
               "transfer": _transfer}  # fmt: skip


def experiment_arms(name: str) -> list[Arm]:
    """The runs an experiment queues, with their prefilled settings (KeyError: unknown)."""
    return EXPERIMENTS[name]()


def experiment_start(*, user, name: str) -> list[Job]:
    """Queue every arm of the experiment as a playground training run, all or none: the
    playground's JobRefused (the user's limit, the cost budget) leaves nothing queued."""
    jobs = []
    with transaction.atomic():  # each run's message leaves only once all are written
        for arm in experiment_arms(name):
            create = transfer.transfer_create if arm.service == "transfer" else (
                train.train_create)
            job = create(user=user, params=arm.params)
            job.title = f"{arm.label} ({job.title})"[:200]
            job.save(update_fields=["title"])
            jobs.append(job)
    return jobs


def tool_url(job: Job) -> str:
    """The builder, filled in with this run's settings (the transfer page for a transfer
    run: it starts from its own defaults)."""
    from django.urls import reverse

    if job.kind == transfer.KIND:
        return f"{reverse('playground:transfer')}?from={job.id}"
    return f"{reverse('playground:new')}?from={job.id}"


def run_reading(job: Job) -> dict[str, Any]:
    """What one run measured, from the numbers the worker stored: the latest gradient norm
    of its first and last layer with parameters, and its validation accuracy."""
    metrics, result = job.metrics or {}, job.result or {}
    if job.kind == transfer.KIND:  # one row per trained (mode, size), per-epoch history in it
        rows = result.get("transfer_rows") or metrics.get("transfer_rows") or []
        return {"status": job.status, "epochs": job.params["transfer"]["epochs"],
                "epochs_done": len(rows[-1]["history"]) if rows else 0,
                "first_norm": None, "last_norm": None, "ratio": None, "step": None,
                "val_accuracy": rows[-1]["val_accuracy"] if rows else None}  # fmt: skip
    points = (metrics.get("gradients") or {}).get("points") or []
    norms = [n for n in points[-1][1] if n is not None] if points else []
    epochs = metrics.get("epochs") or []
    accuracy = (result.get("summary") or {}).get("val_accuracy")
    if accuracy is None and epochs:
        accuracy = epochs[-1]["val_accuracy"]
    first, last = (norms[0], norms[-1]) if norms else (None, None)
    return {
        "status": job.status, "epochs_done": len(epochs), "epochs": job.params.get("epochs"),
        "first_norm": first, "last_norm": last, "val_accuracy": accuracy,
        "ratio": last / first if first else (None if first is None else float("inf")),
        "step": points[-1][0] if points else None,
    }  # fmt: skip


def _verdict(name: str, readings: list[dict[str, Any]]) -> tuple[bool, str]:
    """Did the runs show what the lesson promised, and in which numbers."""
    a, b = readings
    if name == "vanishing":
        kept = a["ratio"] is not None and b["ratio"] is not None
        ok = kept and a["ratio"] >= 100 and b["ratio"] < 100
        return ok, (f"first-layer gradient {_times(a['ratio'])} smaller than the last layer's "
                    f"with sigmoids, {_times(b['ratio'])} with ReLU + batch norm")
    if name == "init":
        ok = a["first_norm"] == 0 and (b["val_accuracy"] or 0) - (a["val_accuracy"] or 0) >= 0.5
        return ok, (f"zeros: first-layer gradient {a['first_norm']}, accuracy "
                    f"{_percent(a['val_accuracy'])}; He: accuracy {_percent(b['val_accuracy'])}")
    gap = (b["val_accuracy"] or 0) - (a["val_accuracy"] or 0)
    if name == "transfer":
        return gap >= 0.05, (f"frozen features {_percent(b['val_accuracy'])} against "
                             f"scratch {_percent(a['val_accuracy'])}: {gap * 100:+.1f} points")
    return gap >= 0.1, (f"residual {_percent(b['val_accuracy'])} against plain "
                        f"{_percent(a['val_accuracy'])}: {gap * 100:+.1f} points")


def _times(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:.3g}×"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def experiment_observe(name: str, jobs: list[Job]) -> dict[str, Any]:
    """The experiment's runs as the lesson shows them: each arm's reading, whether any is
    still going, and once all succeeded, whether they showed the promised observation."""
    arms = experiment_arms(name)
    readings = [{"label": arm.label, "job": job, "url": job.get_absolute_url(),
                 "tool_url": tool_url(job), **run_reading(job)}
                for arm, job in zip(arms, jobs, strict=False)]  # fmt: skip
    finished = len(readings) == len(arms) and all(r["status"] == "succeeded" for r in readings)
    verdict = _verdict(name, readings) if finished else None
    return {
        "arms": readings,
        "gradients": any(arm.service == "train" for arm in arms),  # transfer runs keep none
        "active": any(job.status in ACTIVE_STATES for job in jobs),
        "finished": finished,
        "shown": verdict[0] if verdict else None,
        "summary": verdict[1] if verdict else "",
    }
