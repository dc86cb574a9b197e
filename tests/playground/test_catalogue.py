"""The builder page's layer catalogue comes from netspec, the checker's own table: every
layer the page can add is one the server accepts."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from playground.netspec import LAYER_PARAMS, layer_catalogue, normalize


def test_the_catalogue_describes_every_layer_and_parameter():
    catalogue = layer_catalogue()
    assert set(catalogue) == set(LAYER_PARAMS)
    for kind, entry in catalogue.items():
        assert entry["help"], kind
        assert set(entry["params"]) == set(LAYER_PARAMS[kind]), kind
        assert all(p["hint"] for p in entry["params"].values()), kind
    assert catalogue["dropout"]["params"]["p"] == {
        "start": 0.5,
        "float": True,
        "hint": "fraction dropped",
    }


@pytest.mark.parametrize("kind", list(LAYER_PARAMS))
def test_a_layer_added_in_the_builder_is_valid(kind):
    params = layer_catalogue()[kind]["params"]
    layer = {"type": kind, **{name: p["start"] for name, p in params.items()}}
    # a layer that refers back starts without a name to refer to: the person picks one
    before = [{"type": "maxpool", "name": "p1"}] if kind in ("maxunpool", "concat") else []
    layer.update(
        {"pool": "p1"} if kind == "maxunpool" else {"from": "p1"} if kind == "concat" else {}
    )
    assert normalize([*before, layer])[-1]["type"] == kind  # a None start takes the default


@pytest.mark.django_db
def test_the_builder_page_sends_the_catalogue_and_its_urls(client):
    html = client.get(reverse("playground:new")).content.decode()
    data = json.loads(
        re.search(
            r'<script id="pg-builder" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert data["catalogue"] == layer_catalogue()
    assert data["summary_url"] == reverse("playground:summary")
    assert data["preset_urls"]["lenet5"] == reverse("playground:preset", args=["lenet5"])


def test_every_task_and_dataset_gets_each_run_caption():
    from playground.taskcatalogue import RUN_CAPTIONS, SCENES, TASKS, run_captions

    for task in TASKS:
        for dataset in (*SCENES, "stripes", "digits", "upload", None):
            captions = run_captions(task, dataset)
            assert set(captions) == set(RUN_CAPTIONS) and all(captions.values()), (task, dataset)
    assert "stripes" in run_captions("classify", "stripes")["filters"]
    assert "stripes" not in run_captions("classify", "digits")["filters"]
