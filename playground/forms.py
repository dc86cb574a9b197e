"""The builder's training form: a spec, a dataset and the training settings, all checked."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from playground.limits import LIMITS
from playground.services import BUILTIN_SHAPES, UPLOAD, input_shape_for, spec_summary

OPTIMIZER_CHOICES = [("adam", "Adam"), ("sgd", "SGD with momentum 0.9"), ("rmsprop", "RMSProp")]
INIT_CHOICES = [
    ("default", "PyTorch default (Kaiming uniform)"), ("he", "He (Kaiming normal)"),
    ("xavier", "Xavier (Glorot normal)"), ("small", "Small random N(0, 0.01)"),
    ("zeros", "All zeros"),
]
DATASET_CHOICES = [(name, name) for name in BUILTIN_SHAPES] + [(UPLOAD, "Upload a zip")]


class TrainForm(forms.Form):
    spec = forms.CharField(widget=forms.HiddenInput, max_length=200_000)
    preset = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    dataset = forms.ChoiceField(choices=DATASET_CHOICES, initial="stripes")
    dataset_zip = forms.FileField(required=False)
    image_size = forms.IntegerField(min_value=4, max_value=64, initial=32,
                                    help_text="Uploaded pictures are resized to this square size.")
    max_samples = forms.IntegerField(min_value=20, max_value=LIMITS.max_dataset_samples,
                                     initial=2000, required=False,
                                     help_text="Pictures to generate or use (all when empty).")
    val_fraction = forms.FloatField(min_value=0.05, max_value=0.5, initial=0.2)
    optimizer = forms.ChoiceField(choices=OPTIMIZER_CHOICES, initial="adam")
    lr = forms.FloatField(min_value=1e-6, max_value=10, initial=0.003)
    batch_size = forms.IntegerField(min_value=1, max_value=LIMITS.max_batch_size, initial=64)
    epochs = forms.IntegerField(min_value=1, max_value=LIMITS.max_epochs, initial=5)
    weight_decay = forms.FloatField(min_value=0, max_value=1, initial=0.0)
    init = forms.ChoiceField(choices=INIT_CHOICES, initial="default")
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)
    activation_sample = forms.IntegerField(min_value=0, max_value=LIMITS.max_dataset_samples,
                                           initial=0)
    hflip = forms.BooleanField(required=False)
    vflip = forms.BooleanField(required=False)
    rotate = forms.FloatField(min_value=0, max_value=45, initial=0)
    shift = forms.IntegerField(min_value=0, max_value=8, initial=0)
    color = forms.FloatField(min_value=0, max_value=0.5, initial=0)

    def clean_dataset_zip(self):
        upload = self.cleaned_data.get("dataset_zip")
        if upload is not None and upload.size > settings.UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"The zip is {upload.size / 2**20:.1f} MB; the limit is "
                f"{settings.UPLOAD_MAX_BYTES // 2**20} MB.")
        return upload

    def clean(self) -> dict[str, Any]:
        from playground.datasets import DatasetError, dataset_from_zip, datasets_available
        from playground.netspec import SpecError, spec_from_json

        data = super().clean()
        name = data.get("dataset")
        if name is None or "spec" not in data:
            return data
        self.classes: list[str] | None = None
        if name == UPLOAD:
            upload = data.get("dataset_zip")
            if upload is None:
                self.add_error("dataset_zip", "Choose a zip with one folder of pictures per class.")
                return data
            try:  # the engine's safe reader: no extraction, bombs and escaping paths refused
                read = dataset_from_zip(upload, image_size=data.get("image_size") or 32)
            except DatasetError as exc:
                self.add_error("dataset_zip", f"This zip cannot be used: {exc}.")
                return data
            upload.seek(0)
            self.classes = read.classes
            shape, classes = read.input_shape, len(read.classes)
        else:
            if not next(r["available"] for r in datasets_available() if r["name"] == name):
                self.add_error("dataset", f"The {name} files are not on this server; "
                                          f"an operator can run `manage.py fetch_datasets {name}`.")
                return data
            shape, classes = input_shape_for(dataset=name), BUILTIN_SHAPES[name][1]
        try:
            spec = spec_from_json(data["spec"])
        except SpecError as exc:
            self.add_error("spec", f"The net cannot be read: {exc}.")
            return data
        checked = spec_summary(spec=spec, input_shape=shape, num_classes=classes)
        if not checked["ok"]:
            self.spec_error_index = checked["index"]
            self.add_error("spec", f"The net cannot be built: {checked['error']}.")
            return data
        data["spec_parsed"] = spec
        return data

    def job_params(self) -> dict[str, Any]:
        """What the worker needs, JSON-ready."""
        d = self.cleaned_data
        return {
            "spec": d["spec_parsed"], "preset": d.get("preset") or "", "dataset": d["dataset"],
            "image_size": d["image_size"], "max_samples": d.get("max_samples"),
            "val_fraction": d["val_fraction"], "optimizer": d["optimizer"], "lr": d["lr"],
            "batch_size": d["batch_size"], "epochs": d["epochs"],
            "weight_decay": d["weight_decay"], "init": d["init"], "seed": d["seed"],
            "activation_sample": d["activation_sample"],
            "augment": {"hflip": d["hflip"], "vflip": d["vflip"], "rotate": d["rotate"],
                        "shift": d["shift"], "color": d["color"]},
        }
