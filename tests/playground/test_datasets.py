"""Datasets: generated sets are seeded, zips are read safely, augmentation transforms."""

import io
import zipfile

import pytest
import torch
from PIL import Image

from playground.datasets import Augment, DatasetError, augment_batch, dataset_from_zip, dataset_load
from playground.limits import Limits


def png(size=(12, 10), colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def make_zip(path, members: dict[str, bytes], compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


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


def test_zip_of_class_folders_in_a_wrapping_folder(tmp_path):
    members = {
        f"pets/{c}/{i}.png": png(colour=(i * 40, 0, 0)) for c in ("cat", "dog") for i in range(5)
    }
    members["pets/.DS_Store"] = b"junk"
    data = dataset_from_zip(make_zip(tmp_path / "d.zip", members), image_size=8, val_fraction=0.2)
    assert data.classes == ["cat", "dog"] and data.input_shape == (3, 8, 8)
    assert len(data.train_y) == 8 and len(data.val_y) == 2


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"a/1.png": png(), "../b/1.png": png()}, "outside the archive"),
        ({"a/1.png": png(), "/b/1.png": png()}, "outside the archive"),
        ({"a/1.png": png(), "a/2.png": png()}, "at least 2 classes"),
        ({"a/1.png": png(), "b/1.png": b"\x89PNG not really"}, "corrupt"),
        ({"a/1.png": png(), "1.png": png()}, "class folder"),
    ],
)
def test_bad_zips_are_refused_with_a_reason(tmp_path, members, message):
    with pytest.raises(DatasetError, match=message):
        dataset_from_zip(make_zip(tmp_path / "bad.zip", members))


def test_zip_bomb_and_huge_picture_and_non_zip_are_refused(tmp_path):
    bomb = make_zip(
        tmp_path / "bomb.zip",
        {"a/1.png": png(), "b/x.png": bytes(20_000_000)},
        zipfile.ZIP_DEFLATED,
    )
    with pytest.raises(DatasetError, match="zip bomb"):
        dataset_from_zip(bomb)
    huge = make_zip(tmp_path / "huge.zip", {"a/1.png": png(), "b/1.png": png(size=(300, 200))})
    with pytest.raises(DatasetError, match="300×200; too large"):
        dataset_from_zip(huge, limits=Limits(max_picture_pixels=100 * 100))
    (tmp_path / "not.zip").write_bytes(b"hello")
    with pytest.raises(DatasetError, match="not a readable zip"):
        dataset_from_zip(tmp_path / "not.zip")


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
