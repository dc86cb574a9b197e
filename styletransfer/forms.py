"""The new-job form: pictures (uploaded, from the gallery or from an earlier job) and knobs.

Every picture is decoded here with styletransfer.images.open_rgb, so a bad file is refused
with a message before anything is stored or queued. The knobs start from the engine's
presets, the same defaults as `manage.py stylize`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from PIL import Image

from styletransfer import config as style_config
from styletransfer.config import MIN_SIDE, preset
from styletransfer.gallery import STYLES, gallery_picture
from styletransfer.images import ImageError, open_rgb
from styletransfer.tasks import StyleInput
from webapp.models import Job

DEFAULT_PRESET = "standard"  # what `manage.py stylize` uses without --preset
MAX_TOTAL_STEPS = 1000  # most optimiser steps over all levels of one job
MAX_BLEND = 100.0  # largest blend weight of one style (only ratios matter)
KNOBS = (
    "size",
    "steps",
    "levels",
    "coarse_steps",
    "style_weight",
    "content_weight",
    "tv_weight",
    "optimizer",
    "learning_rate",
    "init",
    "pooling",
    "preserve_color",
    "seed",
)


def engine_limits() -> dict[str, Any]:
    """Presets, choices and size bounds from the engine's settings module."""
    return {
        "presets": style_config.PRESETS,
        "min_side": style_config.MIN_SIDE,
        # the largest preset is the largest picture a job may ask for
        "max_size": max(p.size for p in style_config.PRESETS.values()),
        "optimizers": style_config.OPTIMIZERS,
        "inits": style_config.INITS,
        "poolings": style_config.POOLINGS,
        "color_modes": style_config.COLOR_MODES,
    }


def _choices(values: tuple[str, ...], labels: dict[str, str]) -> list[tuple[str, str]]:
    return [(v, labels.get(v, v)) for v in values]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that accepts several files; cleans to a list (possibly empty)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        items = data if isinstance(data, list | tuple) else [data]
        return [f for f in (super(MultipleFileField, self).clean(d, initial) for d in items) if f]


def _bytes(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{max(1, round(n / 1024))} KB"


def read_picture(upload: UploadedFile) -> Image.Image:
    """Decode one upload within the site's limits, or raise ValidationError naming the file."""
    name = upload.name or "the picture"
    if upload.size > settings.UPLOAD_MAX_BYTES:
        raise forms.ValidationError(
            f"{name} is {_bytes(upload.size)}; the limit is "
            f"{_bytes(settings.UPLOAD_MAX_BYTES)} per picture."
        )
    try:
        picture = open_rgb(upload, max_pixels=settings.UPLOAD_MAX_PIXELS)
    except ImageError as exc:
        raise forms.ValidationError(f"{name}: {exc}.") from exc
    if min(picture.size) < MIN_SIDE:
        raise forms.ValidationError(
            f"{name} is only {picture.width}×{picture.height} pixels; a picture needs at "
            f"least {MIN_SIDE} pixels on each side."
        )
    return picture


def stored_picture(job: Job, name: str) -> Image.Image:
    """A picture an earlier job stored (already validated and converted when it was made)."""
    with default_storage.open(job.params["inputs"][name], "rb") as fh:
        return open_rgb(fh.read(), max_pixels=settings.UPLOAD_MAX_PIXELS)


class StylizeForm(forms.Form):
    content = forms.FileField(
        required=False,
        label="Your photo",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )
    styles = MultipleFileField(required=False, label="Upload style pictures")
    gallery = forms.MultipleChoiceField(
        required=False,
        choices=[(s.name, s.label) for s in STYLES.values()],
        widget=forms.CheckboxSelectMultiple,
        label="Or pick from the gallery",
    )
    from_job = forms.UUIDField(required=False, widget=forms.HiddenInput)
    reuse_content = forms.BooleanField(required=False, label="Use the photo of the earlier job")
    reuse_style = forms.TypedMultipleChoiceField(
        coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )

    preset = forms.ChoiceField(label="Size and quality")
    size = forms.IntegerField(label="Size (longest side, px)")
    steps = forms.IntegerField(label="Steps at full size", min_value=0)
    levels = forms.IntegerField(label="Coarse-to-fine levels", min_value=1, max_value=6)
    coarse_steps = forms.IntegerField(label="Steps per smaller level", min_value=0)
    style_weight = forms.FloatField(label="Style weight", min_value=0, max_value=1e6)
    content_weight = forms.FloatField(label="Content weight", min_value=0, max_value=1e6)
    tv_weight = forms.FloatField(label="Smoothing (TV weight)", min_value=0, max_value=1e6)
    optimizer = forms.ChoiceField(label="Optimiser")
    learning_rate = forms.FloatField(label="Adam learning rate", min_value=1e-5, max_value=1.0)
    init = forms.ChoiceField(label="Start from")
    pooling = forms.ChoiceField(label="Pooling")
    preserve_color = forms.ChoiceField(label="Keep the photo's colours")
    seed = forms.IntegerField(label="Seed", min_value=0, max_value=2**31 - 1)

    def __init__(self, *args: Any, source: Job | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source = source
        limits = self.limits = engine_limits()
        presets = limits["presets"]
        f = self.fields
        f["preset"].choices = [
            (name, f"{name.capitalize()} – {p.size} px, {p.total_steps} steps")
            for name, p in presets.items()
        ]
        f["size"].widget.attrs.update(min=limits["min_side"], max=limits["max_size"])
        f["steps"].widget.attrs.update(min=0, max=MAX_TOTAL_STEPS)
        f["coarse_steps"].widget.attrs.update(min=0, max=MAX_TOTAL_STEPS)
        f["optimizer"].choices = _choices(
            limits["optimizers"], {"lbfgs": "L-BFGS (best quality)", "adam": "Adam (fast on GPUs)"}
        )
        f["init"].choices = _choices(
            limits["inits"],
            {
                "content": "the photo",
                "noise": "noise",
                "style-colors": "the photo in the style's colours",
            },
        )
        f["pooling"].choices = _choices(
            limits["poolings"], {"max": "max (crisper)", "avg": "average (smoother)"}
        )
        f["preserve_color"].choices = _choices(
            limits["color_modes"],
            {
                "none": "no – take the style's colours",
                "luminance": "yes – transfer light and texture only",
                "match": "yes – recolour the style to the photo first",
            },
        )
        base = presets[DEFAULT_PRESET]
        self.initial = {
            "preset": DEFAULT_PRESET,
            **{k: getattr(base, k) for k in KNOBS},
            **self.initial,
        }
        if source is not None:
            self.initial.update(self._from_source(source))
            f["reuse_style"].choices = [
                (i, s["label"]) for i, s in enumerate(source.params["styles"])
            ]

    @staticmethod
    def _from_source(source: Job) -> dict[str, Any]:
        params = source.params
        initial = {
            "preset": params.get("preset", DEFAULT_PRESET),
            "from_job": source.id,
            "reuse_content": True,
            "reuse_style": list(range(len(params.get("styles", [])))),
        }
        initial.update({k: v for k, v in params.get("config", {}).items() if k in KNOBS})
        return initial

    def _weight_shown(self, key: str, default: float) -> Any:
        return self.data.get(key, default) if self.is_bound else default

    def source_styles(self) -> list[dict[str, Any]]:
        """The earlier job's styles, for the template: index, label, weight, checked."""
        if self.source is None:
            return []
        checked = {str(v) for v in self["reuse_style"].value() or []}
        return [
            {
                "index": i,
                "index_str": str(i),
                "label": s["label"],
                "checked": str(i) in checked,
                "weight": self._weight_shown(f"reuse_blend_{i}", s["weight"]),
            }
            for i, s in enumerate(self.source.params.get("styles", []))
        ]

    def gallery_items(self) -> list[dict[str, Any]]:
        """The gallery for the template: name, label, about, checked, weight."""
        checked = set(self["gallery"].value() or [])
        return [
            {
                "name": s.name,
                "label": s.label,
                "about": s.about,
                "checked": s.name in checked,
                "weight": self._weight_shown(f"gallery_blend_{s.name}", 1),
            }
            for s in STYLES.values()
        ]

    # -- per-field checks ------------------------------------------------------------------
    def clean_size(self) -> int:
        size = self.cleaned_data["size"]
        low, high = self.limits["min_side"], self.limits["max_size"]
        if not low <= size <= high:
            raise forms.ValidationError(f"Choose a size from {low} to {high} pixels.")
        return size

    def clean_content(self) -> Image.Image | None:
        upload = self.cleaned_data.get("content")
        return read_picture(upload) if upload else None

    def clean_styles(self) -> list[tuple[str, Image.Image]]:
        pictures, errors = [], []
        for upload in self.cleaned_data.get("styles") or []:
            try:
                pictures.append((upload.name, read_picture(upload)))
            except forms.ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise forms.ValidationError(errors)
        return pictures

    def clean_from_job(self):
        job_id = self.cleaned_data.get("from_job")
        if job_id and (self.source is None or self.source.id != job_id):
            raise forms.ValidationError("The earlier job's pictures are not available.")
        return job_id

    def _blend(self, raw: str | None, label: str, default: float = 1.0) -> float:
        """A style's blend weight as typed (empty means the default), or an error."""
        if raw in ("", None):
            return default
        try:
            weight = float(raw)
        except ValueError:
            weight = -1.0
        if not 0 <= weight <= MAX_BLEND:  # also catches NaN
            self.add_error(
                None,
                f"The blend weight of {label} must be a number from 0 to "
                f"{MAX_BLEND:g}, not {raw!r}.",
            )
            return default
        return weight

    # -- the whole form ----------------------------------------------------------------------
    def clean(self) -> dict[str, Any]:
        data = super().clean()
        styles: list[StyleInput] = []
        upload_blends = self.data.getlist("upload_blend") if hasattr(self.data, "getlist") else []
        for i, (name, picture) in enumerate(data.get("styles") or []):
            raw = upload_blends[i] if i < len(upload_blends) else ""
            weight = self._blend(raw, name)
            styles.append(StyleInput(picture=picture, label=name, weight=weight))
        for name in data.get("gallery") or []:
            style = STYLES[name]
            styles.append(
                StyleInput(
                    picture=gallery_picture(name),
                    label=style.label,
                    weight=self._blend(self.data.get(f"gallery_blend_{name}"), style.label),
                    gallery=name,
                )
            )
        if self.source is not None:
            for i in data.get("reuse_style") or []:
                spec = self.source.params["styles"][i]
                styles.append(
                    StyleInput(
                        picture=stored_picture(self.source, f"style{i}"),
                        label=spec["label"],
                        gallery=spec.get("gallery", ""),
                        weight=self._blend(self.data.get(f"reuse_blend_{i}"), spec["label"]),
                    )
                )
        content = data.get("content")
        content_label = self.files["content"].name if content is not None else ""
        if content is None and self.source is not None and data.get("reuse_content"):
            content, content_label = stored_picture(self.source, "content"), "earlier photo"
        if content is None and "content" not in self.errors:
            self.add_error("content", "Choose a photo to paint.")
        if not styles and "styles" not in self.errors:
            self.add_error(
                "styles", "Add at least one style picture: upload one or pick one from the gallery."
            )
        elif styles and sum(s.weight for s in styles) <= 0:
            self.add_error(None, "At least one style needs a blend weight above 0.")
        total = self._total_steps(data)
        if total is not None and total > MAX_TOTAL_STEPS:
            self.add_error(
                "steps",
                f"These settings make {total} steps in all; the limit is "
                f"{MAX_TOTAL_STEPS}. Use fewer steps or levels.",
            )
        data["style_inputs"], data["content_picture"] = styles, content
        data["content_label"] = content_label
        return data

    def _total_steps(self, data: dict[str, Any]) -> int | None:
        if any(data.get(k) is None for k in ("size", "steps", "levels", "coarse_steps")):
            return None
        config = preset(
            data.get("preset") or DEFAULT_PRESET,
            size=data["size"],
            steps=data["steps"],
            levels=data["levels"],
            coarse_steps=data["coarse_steps"],
        )
        return config.total_steps

    def job_arguments(self) -> dict[str, Any]:
        """Keyword arguments for styletransfer.tasks.stylize_create (after is_valid())."""
        data = self.cleaned_data
        return {
            "content": data["content_picture"],
            "content_label": data["content_label"],
            "styles": data["style_inputs"],
            "preset": data["preset"],
            "config": {k: data[k] for k in KNOBS},
            "max_side": self.limits["max_size"],
        }
