"""Every limit of the playground's own, in one place.

The builder page, the CLI and the worker all read these, so an error message quoting a
limit always matches what is enforced. Uploads share the site's limits (UPLOAD_*
settings, read by webapp.pictures); a dataset zip only raises its picture counts.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_layers: int = 48  # top-level layers in a spec (a block counts as one)
    max_params: int = 5_000_000  # trainable parameters, classifier head included
    max_channels: int = 512  # filters of a conv, units of a linear, branch widths
    max_units: int = 4096  # width of a linear layer
    max_kernel: int = 11  # conv / pool window side
    max_stride: int = 8
    max_padding: int = 5
    max_activation_floats: int = 4_000_000  # sum of every layer's output, one sample (16 MB)
    max_json_depth: int = 6  # nesting of the spec JSON itself
    max_input_side: int = 256  # height/width of the pictures a net is built for
    max_epochs: int = 100
    max_batch_size: int = 1024
    max_dataset_samples: int = 70_000
    max_classes: int = 100
    max_zip_pictures: int = 20_000  # pictures in an uploaded dataset zip
    max_zip_entries: int = 21_000  # entries of any kind: pictures, class folders, junk

    def zip_counts(self) -> dict[str, int]:
        """The counts of webapp.pictures.UploadLimits that a dataset zip needs larger."""
        return {"max_pictures": self.max_zip_pictures, "max_members": self.max_zip_entries}


LIMITS = Limits()
