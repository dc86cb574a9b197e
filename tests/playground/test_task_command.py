"""`manage.py train --task ...`: each task headless, its metric in the JSON line; a net
that does not fit its task is refused naming the layer."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from playground.export import model_load


@pytest.mark.parametrize(
    ("task", "preset", "dataset", "metric"),
    [
        ("localise", "localiser", "boxes", "mean IoU"),
        ("landmarks", "landmarker", "faces", "mean point error (px)"),
        ("segment", "segnet_transposed", "overlaps", "mean IoU"),
        ("verify", "siamese", "digits_heldout", "ROC AUC (held-out classes)"),
    ],
)
def test_train_each_task_headless_with_json_metrics(tmp_path, task, preset, dataset, metric):
    out = io.StringIO()
    call_command("train", "--task", task, "--preset", preset, "--dataset", dataset,
                 "--epochs", "1", "--batch-size", "16", "--max-samples", "300",
                 "--save", str(tmp_path), "--json", stdout=out)  # fmt: skip
    lines = out.getvalue().splitlines()
    summary = json.loads(lines[-1])
    assert summary["task"] == task and summary["metric"] == metric
    assert summary["val_metric"] >= 0 and summary["epochs"] == 1
    assert f"| {metric} " in lines[0]  # the epoch line names the task's metric
    model, _ = model_load(tmp_path / "model.pt")
    assert model.head_kind == {"localise": "box", "landmarks": "points", "segment": "mask",
                               "verify": "embedding"}[task]  # fmt: skip


def test_a_net_that_does_not_fit_its_task_is_refused_naming_the_layer():
    with pytest.raises(CommandError, match=r"layer 14 \(relu\): a segmentation net must end"):
        call_command("train", "--task", "segment", "--preset", "localiser",
                     "--dataset", "overlaps", "--epochs", "1")  # fmt: skip
    with pytest.raises(CommandError, match="unknown dataset 'stripes'"):
        call_command("train", "--task", "segment", "--preset", "unet", "--dataset", "stripes")


def test_verify_with_batch_hard_mining_from_the_command_line(tmp_path):
    losses = {}
    for mining in ("all", "hard"):
        out = io.StringIO()
        args = ["--dataset", "digits_heldout", "--mining", mining, "--epochs", "1",
                "--batch-size", "32", "--max-samples", "300", "--json"]  # fmt: skip
        call_command("train", "--task", "verify", "--preset", "siamese", *args, stdout=out)
        summary = json.loads(out.getvalue().splitlines()[-1])
        assert 0 <= summary["val_metric"] <= 1
        losses[mining] = summary["train_loss"]
    assert losses["hard"] != losses["all"]  # the same seed and batches, another loss
    with pytest.raises(CommandError, match="mining"):
        call_command("train", "--task", "verify", "--preset", "siamese",
                     "--dataset", "digits_heldout", "--mining", "semi")  # fmt: skip
