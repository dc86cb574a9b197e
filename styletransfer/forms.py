"""The new-job form: pictures (uploaded, from the gallery or from an earlier job), one blend
weight per style (a formset: one form per style the page offers) and the engine's knobs.

Uploads are checked from their headers only (webapp.tools.uploads_probe): no pixel is
decoded here and no storage is read; services.stylize_create stores the pictures. The
knobs start from the engine's presets, the same defaults as `manage.py stylize`.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.forms.formsets import INITIAL_FORM_COUNT, TOTAL_FORM_COUNT, ManagementForm

from styletransfer.config import MAX_REGIONS, MIN_SIDE
from styletransfer.gallery import STYLES
from styletransfer.services import (
    DEFAULT_PRESET,
    KNOBS,
    MAX_BLEND,
    MAX_SIZE,
    MAX_STRENGTH,
    MAX_TOTAL_STEPS,
    StyleChoice,
    earlier_styles,
    engine_limits,
    gallery_choices,
    total_steps,
)
from webapp.jsoninput import JSONInputError, json_parse
from webapp.models import Job, JobStatus
from webapp.pictures import PictureInfo, UploadError, check_request_pixels, is_zip
from webapp.tools import MultipleFileField, upload_limits, uploads_probe


def _choices(values: tuple[str, ...], labels: dict[str, str]) -> list[tuple[str, str]]:
    return [(v, labels.get(v, v)) for v in values]


def _bytes(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{max(1, round(n / 1024))} KB"


class StyleWeightForm(forms.Form):
    """The blend weight of one style picture; empty means 1."""

    weight = forms.FloatField(required=False, min_value=0, max_value=MAX_BLEND)

    def __init__(self, *args: Any, label: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label = label
        message = f"The blend weight of {label} must be a number from 0 to {MAX_BLEND:g}."
        for code in ("invalid", "min_value", "max_value"):
            self.fields["weight"].error_messages[code] = message

    def clean_weight(self) -> float:
        weight = self.cleaned_data.get("weight")
        return 1.0 if weight is None else weight

    def shown(self) -> Any:
        """The weight as the page shows it (what was typed, else the starting value)."""
        value = self["weight"].value()
        return 1 if value in (None, "") else value


class StyleWeightFormSet(forms.BaseFormSet):
    """One StyleWeightForm per style the page offers. The server knows how many (files
    sent, gallery styles, the earlier job's styles), so the page posts no management form."""

    def __init__(self, *args: Any, labels: list[str], **kwargs: Any) -> None:
        self.labels = labels
        super().__init__(*args, **kwargs)

    @cached_property
    def management_form(self) -> ManagementForm:
        count = len(self.labels)  # all "initial": every form is checked, none is optional
        data = {f"{self.prefix}-{TOTAL_FORM_COUNT}": count}
        form = ManagementForm(
            {**data, f"{self.prefix}-{INITIAL_FORM_COUNT}": count}, prefix=self.prefix
        )
        form.full_clean()
        return form

    def total_form_count(self) -> int:
        return len(self.labels)

    def initial_form_count(self) -> int:
        return len(self.labels)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {"label": self.labels[index] if index is not None else ""}

    def weights(self) -> list[float]:
        return [form.cleaned_data["weight"] for form in self.forms]

    def weight_errors(self) -> list[str]:
        return [m for form in self.forms for m in form.errors.get("weight", [])]


WeightFormSet = forms.formset_factory(StyleWeightForm, formset=StyleWeightFormSet, extra=0)


class StylizeForm(forms.Form):
    content = forms.FileField(
        required=False,
        label="Your photo",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )
    styles = MultipleFileField(required=False, label="Upload style pictures")
    gallery = forms.MultipleChoiceField(
        required=False,
        choices=gallery_choices,
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

    # regions: a label map painted in the page (grey value = region number) and, per region,
    # its style (index into the chosen styles, in input order) or none, and its strength
    labels = forms.FileField(
        required=False, widget=forms.ClearableFileInput(attrs={"accept": "image/png"})
    )
    regions = forms.CharField(required=False, widget=forms.HiddenInput, max_length=4000)
    reuse_regions = forms.BooleanField(required=False, label="Use the regions of the earlier job")
    refine = forms.BooleanField(required=False, label="Start from the earlier job's result")

    def __init__(self, *args: Any, source: Job | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source = source
        self.limits = engine_limits()
        self._setup_choices()
        earlier = earlier_styles(source)
        self.fields["reuse_style"].choices = [(i, s["label"]) for i, s in enumerate(earlier)]
        data = self.data if self.is_bound else None
        sent = self.files.getlist("styles") if self.is_bound else []
        self.blends = {
            "upload": WeightFormSet(data, prefix="upload", labels=[f.name for f in sent]),
            "gallery": WeightFormSet(
                data,
                prefix="gallery",
                labels=[s.label for s in STYLES.values()],
                initial=[{"weight": 1} for _ in STYLES],
            ),
            "reuse": WeightFormSet(
                data,
                prefix="reuse",
                labels=[s["label"] for s in earlier],
                initial=[{"weight": s["weight"]} for s in earlier],
            ),
        }
        self._pictures: dict[str, list[PictureInfo]] = {}

    def _setup_choices(self) -> None:
        limits, f = self.limits, self.fields
        f["preset"].choices = [
            (
                name,
                f"{name.capitalize()} – {p.size} px, {p.steps} steps at full size, "
                f"{p.total_steps} in all",
            )
            for name, p in limits["presets"].items()
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

    # -- for the template --------------------------------------------------------------------
    def source_styles(self) -> list[dict[str, Any]]:
        """The earlier job's styles: index, label, checked, weight input name and value."""
        checked = {str(v) for v in self["reuse_style"].value() or []}
        return [
            {
                "index": i,
                "index_str": str(i),
                "label": form.label,
                "checked": str(i) in checked,
                "weight_name": form["weight"].html_name,
                "weight": form.shown(),
            }
            for i, form in enumerate(self.blends["reuse"].forms)
        ]

    def gallery_items(self) -> list[dict[str, Any]]:
        """The gallery: name, label, about, checked, weight input name and value."""
        checked = set(self["gallery"].value() or [])
        return [
            {
                "name": s.name,
                "label": s.label,
                "about": s.about,
                "checked": s.name in checked,
                "weight_name": form["weight"].html_name,
                "weight": form.shown(),
            }
            for s, form in zip(STYLES.values(), self.blends["gallery"].forms, strict=True)
        ]

    # -- per-field checks (headers only) -------------------------------------------------------
    def _probe(self, upload: UploadedFile) -> PictureInfo:
        """One uploaded picture's header facts, or a ValidationError naming the file."""
        name = upload.name or "the picture"
        if upload.size > settings.UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"{name} is {_bytes(upload.size)}; the limit is "
                f"{_bytes(settings.UPLOAD_MAX_BYTES)} per picture."
            )
        upload.seek(0)
        if is_zip(upload.read(4)):
            raise forms.ValidationError(f"{name} is a zip; send the pictures themselves.")
        (info,) = uploads_probe([upload], upload_limits())
        if min(info.width, info.height) < MIN_SIDE:
            raise forms.ValidationError(
                f"{name} is only {info.width}×{info.height} pixels; a picture needs at "
                f"least {MIN_SIDE} pixels on each side."
            )
        return info

    def clean_size(self) -> int:
        size = self.cleaned_data["size"]
        low, high = self.limits["min_side"], self.limits["max_size"]
        if not low <= size <= high:
            raise forms.ValidationError(f"Choose a size from {low} to {high} pixels.")
        return size

    def clean_content(self) -> UploadedFile | None:
        upload = self.cleaned_data.get("content")
        if upload:
            self._pictures["content"] = [self._probe(upload)]
        return upload or None

    def clean_styles(self) -> list[UploadedFile]:
        uploads, infos, errors = self.cleaned_data.get("styles") or [], [], []
        for upload in uploads:
            try:
                infos.append(self._probe(upload))
            except forms.ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise forms.ValidationError(errors)
        self._pictures["styles"] = infos
        return uploads

    def clean_labels(self) -> UploadedFile | None:
        upload = self.cleaned_data.get("labels")
        if not upload:
            return None
        name = "The painted regions"
        upload.seek(0)
        if upload.size > settings.UPLOAD_MAX_BYTES or is_zip(upload.read(4)):
            raise forms.ValidationError(f"{name} are not a picture of the regions.")
        try:
            (info,) = uploads_probe([upload], upload_limits())
        except forms.ValidationError as exc:
            raise forms.ValidationError(
                f"{name} are not a picture: {' '.join(exc.messages)}"
            ) from exc
        if max(info.width, info.height) > MAX_SIZE or min(info.width, info.height) < 1:
            raise forms.ValidationError(
                f"{name} are {info.width}×{info.height}; at most {MAX_SIZE} px a side."
            )
        self._pictures["labels"] = [info]
        return upload

    def clean_regions(self) -> list[dict[str, Any]]:
        text = self.cleaned_data.get("regions") or ""
        if not text.strip():
            return []
        try:
            regions = json_parse(text)
        except JSONInputError as exc:
            raise forms.ValidationError(f"The regions cannot be read: {exc}") from exc
        if not isinstance(regions, list) or not all(isinstance(r, dict) for r in regions):
            raise forms.ValidationError("The regions must be a list of {style, strength}.")
        if len(regions) > MAX_REGIONS:
            raise forms.ValidationError(f"At most {MAX_REGIONS} regions; these are {len(regions)}.")
        clean = []
        for i, region in enumerate(regions, start=1):
            style, strength = region.get("style"), region.get("strength", 1.0)
            if style is not None and (
                not isinstance(style, int) or isinstance(style, bool) or style < 0
            ):
                raise forms.ValidationError(f"Region {i}: choose one of the styles, or none.")
            if (
                isinstance(strength, bool)
                or not isinstance(strength, int | float)
                or not (math.isfinite(strength) and 0 <= strength <= MAX_STRENGTH)
            ):
                raise forms.ValidationError(
                    f"Region {i}: the strength must be from 0 to {MAX_STRENGTH:g}."
                )
            clean.append({"style": style, "strength": float(strength)})
        return clean

    def clean_from_job(self):
        job_id = self.cleaned_data.get("from_job")
        if job_id and (self.source is None or self.source.id != job_id):
            raise forms.ValidationError("The earlier job's pictures are not available.")
        return job_id

    # -- the whole form ----------------------------------------------------------------------
    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            check_request_pixels(
                self._pictures.get("content", []) + self._pictures.get("styles", []),
                upload_limits(),
            )
        except UploadError as exc:
            self.add_error(None, str(exc))
        for blends in self.blends.values():
            if not blends.is_valid():
                for message in blends.weight_errors():
                    self.add_error(None, message)
                return data
        styles = self._style_choices(data)
        content = data.get("content")
        if content is None and not (self.source is not None and data.get("reuse_content")):
            if "content" not in self.errors:
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
        data["style_choices"] = styles
        self._clean_regions(data, styles)
        if data.get("refine") and not (
            self.source is not None and self.source.status == JobStatus.SUCCEEDED
        ):
            self.add_error(None, "Only a finished job's result can be refined.")
        return data

    def _clean_regions(self, data: dict[str, Any], styles: list[StyleChoice]) -> None:
        """Regions need a label map (painted now, or the earlier job's) and a description of
        each region; the map must have the photo's shape."""
        regions = data.get("regions") or []
        earlier = (
            self.source is not None
            and data.get("reuse_regions")
            and "labels" in self.source.params.get("inputs", {})
        )
        has_map = data.get("labels") is not None or earlier
        if "labels" in self.errors or "regions" in self.errors:
            return
        if has_map and not regions:
            self.add_error("regions", "Say which style paints each region.")
        elif regions and not has_map:
            self.add_error("regions", "Paint the regions over the photo first.")
        for i, region in enumerate(regions, start=1):
            if region["style"] is not None and region["style"] >= len(styles):
                self.add_error(
                    "regions",
                    f"Region {i} asks for style {region['style'] + 1}; {len(styles)} are chosen.",
                )
        labels, content = self._pictures.get("labels"), self._pictures.get("content")
        if labels and content:
            (l_info,), (c_info,) = labels, content
            if abs(l_info.width / l_info.height - c_info.width / c_info.height) > 0.02 * (
                c_info.width / c_info.height
            ):
                self.add_error(
                    "labels",
                    f"The painted regions are {l_info.width}×{l_info.height} but the photo is "
                    f"{c_info.width}×{c_info.height}: paint them over this photo.",
                )

    def _style_choices(self, data: dict[str, Any]) -> list[StyleChoice]:
        """Every style chosen, in input order: uploads, gallery, the earlier job's."""
        weights = {name: blends.weights() for name, blends in self.blends.items()}
        styles = [
            StyleChoice(label=upload.name, weight=weight, upload=upload)
            for upload, weight in zip(data.get("styles") or [], weights["upload"], strict=False)
        ]
        chosen = set(data.get("gallery") or [])
        styles += [
            StyleChoice(label=s.label, weight=weight, gallery=s.name)
            for s, weight in zip(STYLES.values(), weights["gallery"], strict=True)
            if s.name in chosen
        ]
        earlier = earlier_styles(self.source)
        styles += [
            StyleChoice(
                label=earlier[i]["label"],
                weight=weights["reuse"][i],
                gallery=earlier[i].get("gallery", ""),
                earlier=i,
            )
            for i in data.get("reuse_style") or []
            if self.source is not None
        ]
        return styles

    def _total_steps(self, data: dict[str, Any]) -> int | None:
        knobs = ("size", "steps", "levels", "coarse_steps")
        if any(data.get(k) is None for k in knobs):
            return None
        return total_steps(data.get("preset") or DEFAULT_PRESET, **{k: data[k] for k in knobs})

    def job_arguments(self) -> dict[str, Any]:
        """Keyword arguments for services.stylize_create (after is_valid())."""
        data = self.cleaned_data
        return {
            "content": data["content"],
            "styles": data["style_choices"],
            "preset_name": data["preset"],
            "config": {k: data[k] for k in KNOBS},
            "source": self.source,
            "labels": data.get("labels"),
            "regions": data.get("regions") or [],
            "reuse_regions": bool(data.get("reuse_regions")),
            "refine": bool(data.get("refine")),
        }
