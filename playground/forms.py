"""The builder's training form: a spec, a dataset and the training settings, all checked."""

from __future__ import annotations

from typing import Any

from django import forms

from playground.limits import LIMITS
from playground.taskcatalogue import (
    SCENE_SHAPES,
    SCENES,
    TASK_DATA,
    TASK_HELP,
    TASKS,
    VERIFY_LOSSES,
    task_scenes,
)
from playground.train.services import (
    BUILTIN_SHAPES,
    LABELLED_ZIP_HELP,
    UPLOAD,
    dataset_zip_check,
    input_shape_for,
    labelled_zip_check,
    spec_summary,
    task_head,
)

OPTIMIZER_CHOICES = [("adam", "Adam"), ("sgd", "SGD with momentum 0.9"), ("rmsprop", "RMSProp")]
SCHEDULE_CHOICES = [("constant", "constant"), ("cosine", "cosine decay to 0")]
INIT_CHOICES = [
    ("default", "PyTorch default (Kaiming uniform)"), ("he", "He (Kaiming normal)"),
    ("xavier", "Xavier (Glorot normal)"), ("small", "Small random N(0, 0.01)"),
    ("zeros", "All zeros"),
]
DATASET_CHOICES = [(name, name) for name in [*BUILTIN_SHAPES, *SCENES]] + [(UPLOAD, "Upload a zip")]
TASK_CHOICES = [(name, TASK_HELP[name]["label"]) for name in TASKS]
VERIFY_LOSS_CHOICES = [("triplet", "Triplet loss with a margin"),
                       ("pair", "Binary same/different classifier")]


class TrainForm(forms.Form):
    spec = forms.CharField(widget=forms.HiddenInput, max_length=200_000)
    preset = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    task = forms.ChoiceField(choices=TASK_CHOICES, initial="classify", required=False)
    verify_loss = forms.ChoiceField(choices=VERIFY_LOSS_CHOICES, initial="triplet",
                                    required=False)
    margin = forms.FloatField(min_value=0.01, max_value=2, initial=0.2, required=False,
                              help_text="α of the triplet loss, in squared distance")
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
    schedule = forms.ChoiceField(choices=SCHEDULE_CHOICES, initial="constant", required=False)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)
    activation_sample = forms.IntegerField(min_value=0, max_value=LIMITS.max_dataset_samples,
                                           initial=0)
    hflip = forms.BooleanField(required=False)
    vflip = forms.BooleanField(required=False)
    rotate = forms.FloatField(min_value=0, max_value=45, initial=0)
    shift = forms.IntegerField(min_value=0, max_value=8, initial=0)
    color = forms.FloatField(min_value=0, max_value=0.5, initial=0)

    def clean(self) -> dict[str, Any]:
        from playground.datasets import datasets_available
        from playground.netspec import SpecError, batch_size_check, spec_from_json, summarize

        data = super().clean()
        name = data.get("dataset")
        if name is None or "spec" not in data:
            return data
        self.zip_dataset = None
        task = data.get("task") or TASKS[0]  # runs from before tasks classify
        if TASK_DATA[task] == "scenes":  # the task's own datasets and head
            return self._clean_task(data, task, name)
        if name in SCENES:
            self.add_error("dataset", f"{name} is a dataset for the {SCENES[name][0]} task: "
                                      "choose that task, or a dataset of pictures to classify.")
            return data
        if name == UPLOAD:
            upload = data.get("dataset_zip")
            if upload is None:
                self.add_error("dataset_zip", "Choose a zip with one folder of pictures per class.")
                return data
            try:  # names and picture headers only: the worker decodes the pictures
                self.zip_dataset = dataset_zip_check(upload)
            except forms.ValidationError as exc:
                self.add_error("dataset_zip", exc)
                return data
            # the channels are known once the worker decodes the pictures (grey when all
            # are): 3 is the larger net, so a net that fits here fits then
            shape = input_shape_for(dataset=UPLOAD, image_size=data.get("image_size") or 32)
            classes = len(self.zip_dataset.classes)
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
        if data.get("batch_size"):
            try:
                batch_size_check(summarize(spec, shape, classes), data["batch_size"])
            except SpecError as exc:
                self.spec_error_index = exc.index
                self.add_error("batch_size", f"Batch size 1 does not work with this net: {exc}.")
                return data
        data["spec_parsed"] = spec
        return data

    def _clean_task_upload(self, data: dict[str, Any], task: str) -> dict[str, Any]:
        """Pictures with their labels: the labels and headers checked here."""
        upload = data.get("dataset_zip")
        if upload is None:
            self.add_error("dataset_zip", f"Choose {LABELLED_ZIP_HELP[task]}.")
            return data
        try:  # labels and picture headers only: the worker decodes the pictures
            self.zip_dataset = labelled_zip_check(upload, task)
        except forms.ValidationError as exc:
            self.add_error("dataset_zip", exc)
            return data
        shape = input_shape_for(dataset=UPLOAD, image_size=data.get("image_size") or 32)
        classes = len(self.zip_dataset.classes)
        return self._clean_task_spec(data, task, shape, classes)

    def _clean_task(self, data: dict[str, Any], task: str, name: str) -> dict[str, Any]:
        """A task beyond classification: its own datasets, its head on the summary."""
        moving = [f for f in ("hflip", "vflip", "rotate", "shift") if data.get(f)]
        if moving and task in ("localise", "landmarks", "segment"):
            self.add_error("rotate", f"Augmentation ({', '.join(moving)}) would move the "
                                     f"pictures but not their {task} labels: turn it off.")
            return data
        ours = task_scenes(task)
        if name == UPLOAD and task in LABELLED_ZIP_HELP:
            return self._clean_task_upload(data, task)
        if name not in ours:
            self.add_error("dataset", f"The {task} task trains on {' or '.join(ours)}; "
                                      f"{name} has no {task} labels.")
            return data
        shape, classes = SCENE_SHAPES[name]
        return self._clean_task_spec(data, task, shape, classes)

    def _clean_task_spec(
        self, data: dict[str, Any], task: str, shape: tuple[int, int, int], classes: int
    ) -> dict[str, Any]:
        """The spec with the task's head, and a batch that the task can learn from."""
        from playground.netspec import SpecError, batch_size_check, spec_from_json, summarize

        verify_loss = data.get("verify_loss") or "triplet"
        if verify_loss not in VERIFY_LOSSES:
            self.add_error("verify_loss", "Choose the triplet or the pair loss.")
            return data
        head, outputs = task_head(task=task, classes=classes, verify_loss=verify_loss)
        try:
            spec = spec_from_json(data["spec"])
        except SpecError as exc:
            self.add_error("spec", f"The net cannot be read: {exc}.")
            return data
        checked = spec_summary(spec=spec, input_shape=shape, num_classes=outputs, head=head)
        if not checked["ok"]:
            self.spec_error_index = checked["index"]
            self.add_error("spec", f"The net cannot be built: {checked['error']}.")
            return data
        if data.get("batch_size"):
            try:
                batch_size_check(summarize(spec, shape, outputs, head=head), data["batch_size"])
            except SpecError as exc:
                self.spec_error_index = exc.index
                self.add_error("batch_size", f"Batch size 1 does not work with this net: {exc}.")
                return data
            if task == "verify" and data["batch_size"] < 4:
                self.add_error("batch_size", "Verification learns from pairs within a batch: "
                                             "choose at least 4 pictures.")
                return data
        data["spec_parsed"] = spec
        return data

    def job_params(self) -> dict[str, Any]:
        """What the worker needs, JSON-ready."""
        d = self.cleaned_data
        return {
            "task": d.get("task") or "classify",
            **({"verify_loss": d.get("verify_loss") or "triplet",
                "margin": d.get("margin") or 0.2} if d.get("task") == "verify" else {}),
            "spec": d["spec_parsed"], "preset": d.get("preset") or "", "dataset": d["dataset"],
            "image_size": d["image_size"], "max_samples": d.get("max_samples"),
            "val_fraction": d["val_fraction"], "optimizer": d["optimizer"], "lr": d["lr"],
            "batch_size": d["batch_size"], "epochs": d["epochs"],
            "weight_decay": d["weight_decay"], "init": d["init"], "seed": d["seed"],
            "schedule": d.get("schedule") or "constant",
            "activation_sample": d["activation_sample"],
            "augment": {"hflip": d["hflip"], "vflip": d["vflip"], "rotate": d["rotate"],
                        "shift": d["shift"], "color": d["color"]},
            # an upload's size, from its headers, for the cost estimate
            **({"upload_pictures": self.zip_dataset.pictures,
                "upload_classes": len(self.zip_dataset.classes)} if self.zip_dataset else {}),
        }


TRANSFER_MODE_CHOICES = [
    ("compare", "All three, side by side (scratch, frozen, fine-tune)"),
    ("frozen", "Frozen VGG19 features + a new head"),
    ("finetune", "Fine-tune the last block at a 10× smaller learning rate"),
    ("scratch", "The same net from random weights"),
]
TRANSFER_DATASETS = ["mnist5k", "digits", "shapes", "stripes", "cifar10"]


class TransferForm(forms.Form):
    """Start from VGG19 trained on ImageNet (playground/transfer.py)."""

    dataset = forms.ChoiceField(choices=[(n, n) for n in TRANSFER_DATASETS], initial="mnist5k")
    mode = forms.ChoiceField(choices=TRANSFER_MODE_CHOICES, initial="compare")
    cut = forms.IntegerField(min_value=1, max_value=5, initial=2,
                             help_text="keep VGG19's blocks 1..cut")  # fmt: skip
    per_class = forms.CharField(max_length=40, initial="10, 30, 100", required=False,
                                help_text="training pictures per class, e.g. 10, 30, 100 "
                                          "(empty: all of them)")  # fmt: skip
    epochs = forms.IntegerField(min_value=1, max_value=50, initial=10)

    def clean_per_class(self) -> list[int]:
        text = self.cleaned_data.get("per_class") or ""
        try:
            sizes = sorted({int(part) for part in text.replace(",", " ").split()})
        except ValueError:
            raise forms.ValidationError("Write whole numbers, e.g. 10, 30, 100.") from None
        if len(sizes) > 5 or any(not 1 <= n <= 5000 for n in sizes):
            raise forms.ValidationError("At most five sizes, each 1 to 5,000 pictures per class.")
        return sizes

    def dataset_options(self) -> list[dict[str, Any]]:
        """The dataset menu: each choice with whether this server has it (the page greys
        out the others, as the builder does, instead of refusing them after submit)."""
        from playground.datasets import datasets_available

        here = {r["name"]: r["available"] for r in datasets_available()}
        return [{"name": n, "available": here[n]} for n in TRANSFER_DATASETS]

    def clean(self):
        data = super().clean()
        name = data.get("dataset")
        if name:
            if not next(r["available"] for r in self.dataset_options() if r["name"] == name):
                self.add_error("dataset", f"{name} is not on this server.")
        return data

    def job_params(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {"dataset": d["dataset"], "val_fraction": 0.2, "transfer": {
            "mode": d["mode"], "cut": d["cut"], "epochs": d["epochs"], "image_size": 32,
            "per_class": d["per_class"], "seed": 0,
        }}  # fmt: skip
