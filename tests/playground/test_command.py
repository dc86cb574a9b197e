"""`manage.py train`: a zip of class folders through the shared reader, and a diverging
run explained as a command error."""

import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command
from PIL import Image


def dataset_zip(path):
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in (("dark", 20), ("light", 230)):
            for i in range(6):
                buffer = io.BytesIO()
                Image.new("L", (10, 10), value + i).save(buffer, format="PNG")
                archive.writestr(f"{name}/{i}.png", buffer.getvalue())
    return path


def test_train_a_preset_on_a_zip_and_save_the_model(tmp_path):
    out = io.StringIO()
    call_command("train", "--preset", "lenet5", "--dataset", str(dataset_zip(tmp_path / "d.zip")),
                 "--epochs", "2", "--batch-size", "4", "--save", str(tmp_path / "model"),
                 "--json", stdout=out)  # fmt: skip
    summary = json.loads(out.getvalue().splitlines()[-1])
    assert summary["epochs"] == 2 and not summary["stopped"]
    assert (tmp_path / "model" / "model.pt").exists()


def test_a_diverging_run_is_a_command_error_that_says_why():
    with pytest.raises(CommandError, match="The training diverged.*Lower the learning rate"):
        call_command("train", "--preset", "vgg_small", "--dataset", "stripes",
                     "--max-samples", "400", "--optimizer", "sgd", "--lr", "10", "--init", "he",
                     "--batch-size", "32", stdout=io.StringIO())  # fmt: skip
