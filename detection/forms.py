"""The new-detection form: pictures (or zips of them) and the starting thresholds."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.template.defaultfilters import filesizeformat

from detection.services import DEFAULT_CONF, DEFAULT_IOU, upload_limits
from detection.uploads import UploadError, read_upload


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that takes one or many files and cleans to a list of them."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None) -> list:
        single = super().clean
        if isinstance(data, list | tuple):
            if not data and self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else single(data, initial) or []


class DetectForm(forms.Form):
    pictures = MultipleFileField(
        error_messages={"required": "Choose at least one picture or a zip of pictures."},
    )
    conf = forms.FloatField(
        label="Confidence", initial=DEFAULT_CONF,
        help_text="Boxes scoring below this are hidden. You can change it on the results page.",
    )
    iou = forms.FloatField(
        label="Overlap (IoU)", initial=DEFAULT_IOU,
        help_text="Boxes of one class overlapping a better one by more than this are merged.",
    )
    classes = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to keep every class.",
    )

    def __init__(self, *args, class_names: list[str], floor: float, max_iou: float,
                 **kwargs) -> None:
        """`floor` and `max_iou`: the range the stored candidates can be re-filtered over."""
        super().__init__(*args, **kwargs)
        self.fields["classes"].choices = [(n, n) for n in class_names]
        for name, low, high in (("conf", floor, 1.0), ("iou", 0.05, max_iou)):
            field = self.fields[name]
            field.validators += [MinValueValidator(low), MaxValueValidator(high)]
            field.widget.attrs.update(min=low, max=high, step=0.01)
        self.picture_count = 0

    def clean_pictures(self) -> list:
        """Read every upload with the engine's safe reader; refuse the lot on any problem."""
        uploads = self.cleaned_data["pictures"]
        limits = upload_limits()
        total_bytes = sum(u.size for u in uploads)
        if total_bytes > limits.max_unzipped_bytes:
            raise forms.ValidationError(
                f"The files add up to {filesizeformat(total_bytes)}; at most "
                f"{filesizeformat(limits.max_unzipped_bytes)} can go in one job."
            )
        count = 0
        for upload in uploads:
            if upload.size > limits.max_bytes:
                raise forms.ValidationError(
                    f"{upload.name}: {filesizeformat(upload.size)} is more than the "
                    f"{filesizeformat(limits.max_bytes)} allowed per file."
                )
            try:
                upload.seek(0)
                count += len(read_upload(upload, upload.name, limits))
            except UploadError as exc:
                raise forms.ValidationError(str(exc)) from exc
            if count > limits.max_pictures:
                raise forms.ValidationError(
                    f"That is more than {limits.max_pictures} pictures; split them over "
                    f"several jobs."
                )
        self.picture_count = count
        return uploads

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for field in ("conf", "iou"):
            value = data.get(field)
            if value is not None:
                data[field] = round(value, 4)
        return data
