"""The new-detection form: pictures (or zips of them) and the starting thresholds.

Uploads are checked from their headers only (webapp.tools.uploads_probe): no picture is
decoded and nothing is stored here; the worker decodes them, one at a time.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.template.defaultfilters import filesizeformat

from detection.labels import LabelError, PictureSize, label_files, read_labels
from detection.modelcard import DEFAULT_MODEL, MODELS
from detection.services import DEFAULT_CONF, DEFAULT_IOU, model_installed, model_label
from detection.thresholds import parse_class_conf
from detection.video import VideoError, VideoInfo, VideoLimits, probe_video
from detection.windows import WINDOWS
from webapp.pictures import PictureInfo
from webapp.tools import MultipleFileField, upload_limits, upload_read, uploads_probe


class DetectForm(forms.Form):
    pictures = MultipleFileField(required=False)
    video = forms.FileField(
        required=False,
        help_text="Or one short clip instead of pictures: MP4, MOV or WebM, at most "
        f"{VideoLimits().max_seconds:.0f} s and {VideoLimits().max_side} pixels on a side.",
    )
    model = forms.ChoiceField(
        required=False,  # none sent: the default model
        choices=[(key, model_label(card)) for key, card in MODELS.items()],
        initial=DEFAULT_MODEL,
        widget=forms.RadioSelect,
        help_text="mAP@0.5 as published on COCO; the time is the network alone on this "
        "site's CPU worker.",
    )
    conf = forms.FloatField(
        label="Confidence",
        initial=DEFAULT_CONF,
        help_text="Boxes scoring below this are hidden. You can change it on the results page.",
    )
    iou = forms.FloatField(
        label="Overlap (IoU)",
        initial=DEFAULT_IOU,
        help_text="Boxes of one class overlapping a better one by more than this are merged.",
    )
    classes = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to keep every class.",
    )
    class_conf = forms.CharField(
        label="Per-class confidence",
        required=False,
        max_length=4000,
        help_text="A class's own confidence instead of the one above, e.g. "
        "“cup=0.5, person=0.3”. You can change these on the results page too.",
    )

    compare = forms.MultipleChoiceField(
        label="Compare with",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(key, card.name) for key, card in MODELS.items()],
        help_text="With labels: also run these models over the same pictures and show their "
        "AP per class, precision–recall curves and time per picture beside the chosen model's.",
    )

    labels = MultipleFileField(
        required=False,
        help_text="Optional: your own labels for these pictures, to measure the model on "
        "them (mAP). One COCO .json file, or YOLO .txt files (one per picture, named like it, "
        "with classes.txt or obj.names if your class numbers are your own), or a zip of them.",
    )

    windows = forms.TypedChoiceField(
        label="Sliding windows vs one convolutional pass",
        required=False,
        coerce=int,
        empty_value=0,
        choices=[("", "no comparison"),
                 *((str(w), f"{w} × {w} windows") for w in WINDOWS)],  # fmt: skip
        help_text="On the first picture, also classify every 13 × 13 grid cell the slow way "
        "(a window cropped around it, the network run on each) and compare time and "
        "multiply-adds with the one convolutional pass.",
    )
    proposals = forms.BooleanField(
        label="Region proposals (two stages) vs one pass",
        required=False,
        help_text="On the first picture, also detect the R-CNN way: regions proposed from a "
        "segmentation of the picture, each one cropped and classified by its own network pass; "
        "compared in passes, multiply-adds and time with YOLO's single pass.",
    )

    def __init__(
        self, *args, class_names: list[str], floor: float, max_iou: float, **kwargs
    ) -> None:
        """`floor` and `max_iou`: the range the stored candidates can be re-filtered over."""
        super().__init__(*args, **kwargs)
        self.fields["classes"].choices = [(n, n) for n in class_names]
        self.class_names, self.floor = class_names, floor
        for name, low, high in (("conf", floor, 1.0), ("iou", 0.05, max_iou)):
            field = self.fields[name]
            field.validators += [MinValueValidator(low), MaxValueValidator(high)]
            field.widget.attrs.update(min=low, max=high, step=0.01)
        self.found: list[PictureInfo] = []  # the pictures the uploads declare, once valid
        self.labelled = 0  # objects in the labels, once valid
        self.video_info: VideoInfo | None = None  # the clip's declared facts, once valid

    def clean_model(self) -> str:
        """The chosen model (none: the default), refused with the fix when its files are
        not installed."""
        key = self.cleaned_data["model"] or DEFAULT_MODEL
        missing = model_installed(MODELS[key])
        if missing:
            raise forms.ValidationError(f"{MODELS[key].name} is not installed here: {missing}")
        return key

    def clean_video(self):
        """Check the clip from its headers (container, size, length, frames)."""
        upload = self.cleaned_data.get("video")
        if not upload:
            return None
        limits = VideoLimits(max_bytes=upload_limits().max_bytes)
        if upload.size > limits.max_bytes:
            raise forms.ValidationError(
                f"{upload.name}: {filesizeformat(upload.size)} is more than the "
                f"{filesizeformat(limits.max_bytes)} allowed per file."
            )
        try:
            self.video_info = probe_video(upload_read(upload, upload_limits()), upload.name, limits)
        except VideoError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return upload

    def clean_pictures(self) -> list:
        """Check every upload from its headers; refuse the lot on any problem."""
        uploads = self.cleaned_data["pictures"]
        if not uploads:
            return []
        limits = upload_limits()
        total_bytes = sum(u.size for u in uploads)
        if total_bytes > limits.max_unzipped_bytes:
            raise forms.ValidationError(
                f"The files add up to {filesizeformat(total_bytes)}; at most "
                f"{filesizeformat(limits.max_unzipped_bytes)} can go in one job."
            )
        for upload in uploads:
            if upload.size > limits.max_bytes:
                raise forms.ValidationError(
                    f"{upload.name}: {filesizeformat(upload.size)} is more than the "
                    f"{filesizeformat(limits.max_bytes)} allowed per file."
                )
        self.found = uploads_probe(uploads, limits)
        return uploads

    def clean_class_conf(self) -> dict[str, float]:
        """{"cup": 0.5, ...}: each value from the candidate floor to 1, each name a class."""
        try:
            return parse_class_conf(self.cleaned_data["class_conf"], self.class_names,
                                    floor=self.floor)  # fmt: skip
        except ValueError as exc:
            raise forms.ValidationError(f"Per-class confidence: {exc}.") from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        has_pictures = bool(data.get("pictures")) or "pictures" in self.errors
        has_video = bool(data.get("video")) or "video" in self.errors
        if not has_pictures and not has_video:
            self.add_error("pictures", "Choose at least one picture, a zip of pictures, or a clip.")
        elif has_pictures and has_video:
            self.add_error("video", "Send pictures or one clip, not both in one job.")
        if has_video and data.get("labels"):
            self.add_error("labels", "Labels go with pictures; a clip is not measured.")
        compare = [k for k in data.get("compare") or [] if k != data.get("model")]
        data["compare"] = compare
        if compare and not data.get("labels") and "labels" not in self.errors:
            self.add_error("compare", "Comparing models needs your labels: add them, or untick "
                           "the models to compare with.")  # fmt: skip
        for key in compare:
            missing = model_installed(MODELS[key])
            if missing:
                self.add_error("compare", f"{MODELS[key].name} is not installed here: {missing}")
        labels = data.get("labels") or []
        if labels and self.found:
            limits = upload_limits()
            try:
                files = label_files(((u.name, upload_read(u, limits)) for u in labels), limits)
                sizes = [PictureSize(p.name, p.width, p.height) for p in self.found]
                truth = read_labels(files, sizes, self.class_names)
            except LabelError as exc:
                for problem in exc.problems[:20]:
                    self.add_error("labels", problem)
                if len(exc.problems) > 20:
                    self.add_error("labels", f"… and {len(exc.problems) - 20} more problems")
            else:
                self.labelled = sum(len(v) for v in truth.values())
        for field in ("conf", "iou"):
            value = data.get(field)
            if value is not None:
                data[field] = round(value, 4)
        return data
