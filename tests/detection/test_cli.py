"""`manage.py detect` end to end, on the tiny model installed as the default model files."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from detection.annotate import annotate, class_colour
from detection.modelcard import MODELS
from detection.yolo import MODEL_CARD, Detection


@pytest.fixture
def tiny_models_dir(tiny_files, tmp_path, monkeypatch):
    """A models directory whose YOLOv3-tiny files are really the tiny random model."""
    cfg, weights = tiny_files
    models = tmp_path / "data" / "models"
    models.mkdir(parents=True)
    shutil.copy(cfg, models / MODEL_CARD.cfg)
    shutil.copy(weights, models / MODEL_CARD.weights)
    (models / MODEL_CARD.names).write_text("cat\ndog\n")
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    return models


def detect(*args: str) -> str:
    out = io.StringIO()
    call_command("detect", *args, stdout=out)
    return out.getvalue()


def test_json_has_one_list_per_picture_in_picture_pixels(tiny_models_dir, tmp_path):
    paths = [tmp_path / "wide.png", tmp_path / "tall.jpg"]
    Image.new("RGB", (120, 50), "red").save(paths[0])
    Image.new("RGB", (30, 90), "blue").save(paths[1])

    lines = detect(*map(str, paths), "--json", "--conf", "0.01").splitlines()

    assert len(lines) == 2
    for line, (w, h) in zip(lines, [(120, 50), (30, 90)], strict=True):
        found = json.loads(line)
        assert found and set(found[0]) == {"class", "score", "box"}
        assert [d["score"] for d in found] == sorted((d["score"] for d in found), reverse=True)
        for d in found:
            x1, y1, x2, y2 = d["box"]
            assert d["class"] in ("cat", "dog") and 0 <= x1 <= x2 <= w and 0 <= y1 <= y2 <= h


def test_class_filter_and_out_dir(tiny_models_dir, tmp_path):
    picture = tmp_path / "p.png"
    Image.new("RGB", (64, 64), "green").save(picture)
    out_dir = tmp_path / "out"

    found = json.loads(detect(str(picture), "--json", "--conf", "0.01", "--classes", "dog",
                              "--out-dir", str(out_dir)))  # fmt: skip

    assert found and {d["class"] for d in found} == {"dog"}
    assert Image.open(out_dir / "p.detected.png").size == (64, 64)


def test_bad_inputs_are_command_errors(tiny_models_dir, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CommandError, match="not a picture"):
        detect(str(text))
    with pytest.raises(CommandError, match="unknown class name"):
        picture = tmp_path / "p.png"
        Image.new("RGB", (8, 8)).save(picture)
        detect(str(picture), "--classes", "unicorn")


def test_missing_model_files_say_how_to_fetch_them(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    with pytest.raises(CommandError, match="fetch_models"):
        detect(str(tmp_path / "any.png"))


def test_annotate_draws_boxes_in_the_class_colour():
    picture = Image.new("RGB", (100, 80), "white")
    found = [Detection(3, "car", 0.9, (20.0, 30.0, 70.0, 60.0))]
    drawn = annotate(picture, found)
    assert drawn.size == picture.size and picture.getpixel((20, 45)) == (255, 255, 255)
    assert drawn.getpixel((20, 45)) == class_colour(3)  # left edge of the box
    assert drawn.getpixel((45, 45)) == (255, 255, 255)  # inside stays untouched


def test_class_conf_gives_one_class_its_own_threshold(tiny_models_dir, tmp_path):
    """--class-conf dog=X keeps exactly the dogs of --conf X and the cats of --conf 0.01:
    NMS is per class, so one class's threshold never changes another's boxes."""
    picture = tmp_path / "p.png"
    Image.new("RGB", (64, 64), "green").save(picture)
    everything = json.loads(detect(str(picture), "--json", "--conf", "0.01"))
    dogs = sorted(d["score"] for d in everything if d["class"] == "dog")
    assert len(dogs) >= 2 and any(d["class"] == "cat" for d in everything)
    cut = dogs[len(dogs) // 2]
    high = json.loads(detect(str(picture), "--json", "--conf", str(cut)))

    found = json.loads(
        detect(str(picture), "--json", "--conf", "0.01", "--class-conf", f"dog={cut}")
    )

    def of(name, ds):
        return [d for d in ds if d["class"] == name]

    assert of("cat", found) == of("cat", everything)
    assert of("dog", found) == of("dog", high) != []
    assert len(of("dog", found)) < len(of("dog", everything))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dog", "is not class=confidence"),
        ("horse=0.5", "“horse” is not a class of this model"),
        ("dog=high", "is not a number"),
        ("dog=1.5", "between 0 and 1"),
        ("dog=nan", "between 0 and 1"),
        ("dog=0.3,dog=0.4", "given twice"),
    ],
)
def test_bad_class_conf_is_refused_before_any_output(tiny_models_dir, tmp_path, text, message):
    picture = tmp_path / "p.png"
    Image.new("RGB", (64, 64), "green").save(picture)
    out = io.StringIO()
    with pytest.raises(CommandError, match=message):
        call_command("detect", str(picture), "--class-conf", text, stdout=out)
    assert out.getvalue() == ""


def test_list_models_names_every_model_and_what_is_missing(tiny_models_dir):
    lines = detect("--list-models").splitlines()
    assert [line.split()[0] for line in lines] == list(MODELS)
    by_key = dict(zip(MODELS, lines, strict=True))
    assert "33.1 mAP@0.5" in by_key["yolov3-tiny"] and "not installed" not in by_key["yolov3-tiny"]
    assert "40.2 mAP@0.5" in by_key["yolov4-tiny"] and "not installed" in by_key["yolov4-tiny"]


def test_model_option_loads_that_models_files(tiny_models_dir, tmp_path):
    picture = tmp_path / "p.png"
    Image.new("RGB", (64, 64), "green").save(picture)
    with pytest.raises(CommandError, match="yolov4-tiny.cfg is missing.*fetch_models"):
        detect(str(picture), "--model", "yolov4-tiny")
    v4 = MODELS["yolov4-tiny"]
    for name in (MODEL_CARD.cfg, MODEL_CARD.weights):
        (tiny_models_dir / name).rename(tiny_models_dir / getattr(v4, name.rsplit(".")[-1]))

    found = json.loads(detect(str(picture), "--json", "--conf", "0.01", "--model", "yolov4-tiny"))

    assert found and {d["class"] for d in found} <= {"cat", "dog"}
    with pytest.raises(CommandError, match="invalid choice: 'yolov9'"):
        detect(str(picture), "--model", "yolov9")
