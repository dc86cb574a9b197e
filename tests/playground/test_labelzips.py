"""Uploaded zips of pictures with boxes, points or masks: read strictly through the one
reader of untrusted zips, every bad label refused naming its file and line; a localise
zip trains through the form and the real worker."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from playground.labelzips import labelled_zip_probe, labelled_zip_read
from playground.taskcatalogue import TASK_PRESETS
from tests.conftest import wait_job_done
from webapp.models import Job, JobStatus
from webapp.pictures import UploadError
from webapp.tools import upload_limits

LIMITS = upload_limits()
H = "file,class,x0,y0,x1,y1\n"  # a localise labels.csv header


def png(width: int, height: int, value=128, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), value).save(buffer, format="PNG")
    return buffer.getvalue()


def make_zip(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


BOXES_CSV = H + "a.png,cat,0,10,20,30\nb.png,dog,5,5,40,20\n"


def test_a_localise_zip_is_read_with_boxes_scaled_to_the_picture_size():
    data = make_zip(
        {"pics/a.png": png(40, 40), "pics/b.png": png(80, 40), "labels.csv": BOXES_CSV}
    )
    found = labelled_zip_probe(data, "d.zip", "localise", LIMITS)
    assert (found.names, found.pictures, found.pixels) == (["cat", "dog"], 2, 40 * 40 + 80 * 40)
    pictures, targets, names = labelled_zip_read(
        data, task="localise", image_size=20, limits=LIMITS
    )
    assert pictures.shape == (2, 20, 20, 1) and names == ["cat", "dog"]  # grey: one channel
    assert targets.tolist() == [[0, 0, 5, 10, 15], [1, 1.25, 2.5, 10, 10]]


def test_landmarks_from_json_and_segment_masks():
    doc = {"points": ["nose", "chin"],
           "labels": [{"file": "f.png", "points": [[10, 10], [20, 30]]}]}  # fmt: skip
    data = make_zip({"f.png": png(40, 40), "labels.json": json.dumps(doc)})
    _, targets, names = labelled_zip_read(data, task="landmarks", image_size=20, limits=LIMITS)
    assert names == ["nose", "chin"] and targets.tolist() == [[5, 5, 10, 15]]

    mask = np.zeros((8, 8), dtype=np.uint8)
    mask[2:6, 2:6] = 2
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format="PNG")
    data = make_zip({"img/s.png": png(8, 8), "masks/s.png": buffer.getvalue(),
                     "classes.txt": "sky\nsea\nboat\n"})  # fmt: skip
    _, targets, names = labelled_zip_read(data, task="segment", image_size=4, limits=LIMITS)
    assert names == ["sky", "sea", "boat"]
    assert targets.tolist() == [[[0, 0, 0, 0], [0, 2, 2, 0], [0, 2, 2, 0], [0, 0, 0, 0]]]


@pytest.mark.parametrize(
    ("task", "files", "words"),
    [
        ("localise", {"a.png": png(9, 9), "labels.csv": "file,box\na.png,1\n"},
         ["labels.csv line 1", "header"]),
        ("localise", {"a.png": png(9, 9), "labels.csv": H + "a.png,cat,1,2,nan,4\n"},
         ["labels.csv line 2", "x1 must be a finite number"]),
        ("localise", {"a.png": png(9, 9), "labels.csv": H + "\na.png,cat,5,2,3,4\n"},
         ["labels.csv line 3", "0 ≤ x0 < x1"]),
        ("localise", {"a.png": png(9, 9), "labels.csv": H + "a.png,cat,1,2\n"},
         ["labels.csv line 2", "4 columns, the header has 6"]),
        ("localise", {"a.png": png(9, 9), "b.png": png(9, 9),
                      "labels.csv": H + "a.png,cat,1,2,3,4\n"},
         ["'b.png' has no label in labels.csv"]),
        ("localise", {"a.png": png(9, 9),
                      "labels.csv": H + "a.png,cat,1,2,3,4\nz.png,cat,1,2,3,4\n"},
         ["labels 'z.png', which is not a picture"]),
        ("localise", {"a.png": png(9, 9),
                      "labels.csv": H + "a.png,cat,1,2,3,4\na.png,cat,1,2,3,4\n"},
         ["labels.csv line 3", "'a.png' has a label already"]),
        ("localise", {"a.png": png(9, 9), "labels.csv": H + "a.png,cat,1,2,30,4\n"},
         ["label of 'a.png' reaches outside its 9×9 pixels"]),
        ("localise", {"a.png": png(9, 9), "labels.csv": H.encode() + b"\xff\xfe,c,1,2,3,4"},
         ["labels.csv is not UTF-8"]),
        ("localise", {"a.png": png(9, 9)}, ["needs one labels.csv or labels.json; found 0"]),
        ("landmarks", {"a.png": png(9, 9), "labels.json": json.dumps(
            {"points": ["eye"], "labels": [{"file": "a.png", "points": [[1]]}]})},
         ["labels.json item 1", "1 [x, y] pairs"]),
        ("landmarks", {"a.png": png(9, 9), "labels.json": "{not json"},
         ["labels.json: not valid JSON"]),
        ("landmarks", {"a.png": png(9, 9), "labels.csv": "file,eye_x,nose_y\na.png,1,2\n"},
         ["labels.csv line 1", "expected NAME_x,NAME_y"]),
        ("segment", {"a.png": png(9, 9), "classes.txt": "a\nb\n"}, ["'a.png' has no mask"]),
        ("segment", {"a.png": png(9, 9), "masks/a.png": png(9, 9, 1)}, ["needs classes.txt"]),
    ],
)  # fmt: skip
def test_bad_labels_are_refused_naming_the_file_and_line(task, files, words):
    with pytest.raises(UploadError) as err:
        labelled_zip_probe(make_zip(files), "d.zip", task, LIMITS)
    for word in words:
        assert word in str(err.value)


def test_bad_masks_are_refused_when_decoded():
    colour = make_zip({"a.png": png(4, 4), "masks/a.png": png(4, 4, (1, 2, 3), "RGB"),
                       "classes.txt": "x\ny\n"})  # fmt: skip
    with pytest.raises(UploadError, match="masks/a.png is in colour"):
        labelled_zip_read(colour, task="segment", image_size=4, limits=LIMITS)
    sized = make_zip({"a.png": png(4, 4), "masks/a.png": png(5, 4, 1), "classes.txt": "x\ny\n"})
    with pytest.raises(UploadError, match=r"masks/a.png is 5×4, its picture 4×4"):
        labelled_zip_read(sized, task="segment", image_size=4, limits=LIMITS)
    many = make_zip({"a.png": png(4, 4), "masks/a.png": png(4, 4, 7), "classes.txt": "x\ny\n"})
    with pytest.raises(UploadError, match="a mask has class 7 but classes.txt names 2"):
        labelled_zip_read(many, task="segment", image_size=4, limits=LIMITS)


def boxes_zip() -> bytes:
    rng = np.random.default_rng(0)
    files, lines = {}, ["file,class,x0,y0,x1,y1"]
    for i in range(40):
        x0, y0 = rng.integers(0, 12, 2)
        picture = np.zeros((24, 24), dtype=np.uint8)
        picture[y0 : y0 + 10, x0 : x0 + 10] = 200 if i % 2 else 120
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, format="PNG")
        files[f"p/{i}.png"] = buffer.getvalue()
        lines.append(f"{i}.png,{'bright' if i % 2 else 'dim'},{x0},{y0},{x0 + 10},{y0 + 10}")
    files["labels.csv"] = "\n".join(lines)
    return make_zip(files)


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_a_localise_zip_trains_through_the_form_and_the_worker(stack, client, make_user):
    user = make_user()
    client.force_login(user)
    form = {
        "task": "localise", "dataset": "upload", "image_size": 24, "val_fraction": 0.25,
        "spec": json.dumps(TASK_PRESETS["localiser"][2]((3, 24, 24))), "preset": "localiser",
        "optimizer": "adam", "lr": 0.003, "batch_size": 8, "epochs": 2, "weight_decay": 0,
        "init": "default", "seed": 0, "activation_sample": 0, "rotate": 0, "shift": 0,
        "color": 0, "margin": 0.2,
    }  # fmt: skip
    bad = make_zip({"a.png": png(9, 9), "labels.csv": H + "a.png,c,1,2,3\n"})
    response = client.post(reverse("playground:new"),
                           {**form, "dataset_zip": SimpleUploadedFile("bad.zip", bad)})  # fmt: skip
    assert response.status_code == 400
    assert "labels.csv line 2: 5 columns, the header has 6" in response.content.decode()
    assert not Job.objects.exists()

    upload = SimpleUploadedFile("boxes.zip", boxes_zip())
    response = client.post(reverse("playground:new"), {**form, "dataset_zip": upload})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get()
    wait_job_done(job, timeout=120)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.metrics["classes"] == ["dim", "bright"]
    assert job.metrics["task"]["task"] == "localise" and len(job.metrics["task"]["items"]) == 8
    assert job.result["history"][-1]["metric"] == "mean IoU"
