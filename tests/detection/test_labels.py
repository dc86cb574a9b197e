"""Hostile COCO label files through the detection form: each a form error naming the
place, nothing stored or queued, at a cost linear in the file (bench/bench_labels.py)."""

from __future__ import annotations

import json

import pytest

from tests.detection.test_views import _refused, png, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, make_user):
    client.force_login(make_user("dora"))
    return client


def _coco(**annotation) -> bytes:
    """A COCO file for the picture a.png (64x48) with one annotation of these keys."""
    ann = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], **annotation}
    return json.dumps({"images": [{"id": 1, "file_name": "a.png"}],
                       "categories": [{"id": 1, "name": "person"}],
                       "annotations": [ann]}).encode()  # fmt: skip


HEAD = b'{"images": [], "categories": [], "annotations": '


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        # issue 21: 12-15 s of the web process, then 20 problems of 200,000
        (HEAD + b"[" + b",".join([b"0"] * 200_000) + b"]}",
         "“annotations” holds 200,000 entries; at most 50,000"),
        (HEAD + b"[" * 100_000, "nested more than 64 deep"),  # was a 500: RecursionError
        (HEAD + b"[], \"n\": " + b"7" * 5000 + b"}",  # was a 500: ValueError
         "n must be a finite number of at most 30 digits"),
        (_coco(bbox=[1, 1, int("9" * 401), 5]),  # was a 500: OverflowError
         "annotations[0].bbox[2] must be a finite number of at most 30 digits"),
        (_coco(image_id=[1]), "“image_id” and “category_id” must be integers"),  # TypeError
        (_coco(category_id={"id": 1}), "“image_id” and “category_id” must be integers"),
    ],
    ids=["200k-zeros", "nested", "5000-digits", "401-digit-bbox", "image_id-list",
         "category_id-object"],
)  # fmt: skip
def test_hostile_coco_labels_are_a_form_error_and_nothing_is_stored(logged_in, labels, message):
    _refused(logged_in, [upload("a.png", png())], message,
             labels=[upload("l.json", labels, "application/json")])  # fmt: skip


def test_a_yolo_file_of_millions_of_lines_is_refused_before_any_is_read(logged_in):
    """20 MB of lines cost the web process 3.5-7 s; now the line count refuses it."""
    lines = b"0 0.5 0.5 0.1 0.1\n" * 200_000
    _refused(logged_in, [upload("a.png", png())], "the label files hold 200,001 lines; "
             "at most 100,000", labels=[upload("a.txt", lines, "text/plain")])  # fmt: skip
