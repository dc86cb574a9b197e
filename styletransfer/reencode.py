"""Uploaded pictures re-encoded as plain PNGs in a short-lived child process.

A job's stored pictures must be clean PNGs from the moment it is created (they are
served back on the form's "run again" and must never carry what came after a picture's
end, such as an HTML page). Making one means decoding the upload, and a crafted 5 KB PNG
decodes to 40 megapixels: in the web process that memory would stay. So the web process
only checks headers (webapp.pictures.probe_*) and hands the bytes to a child interpreter
that decodes one picture at a time with webapp.pictures.read_picture, shrinks it, writes
the PNG and exits: its memory goes back to the system with it. The child runs under a
data-segment ceiling and a time limit.

Django-free; the child is `python -m styletransfer.reencode` (stdin: a JSON request).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from webapp.pictures import UploadError, UploadLimits, read_label_map, read_picture

CHILD_MEMORY_MB = 2048  # one 40 Mpx picture, decoded and converted, needs under 1 GB
CHILD_TIMEOUT_S = 60
ROOT = Path(__file__).resolve().parent.parent


def reencode_pictures(
    pictures: list[tuple[str, bytes]],
    *,
    limits: UploadLimits,
    longest: int,
    label_maps: dict[int, int] | None = None,
) -> list[bytes]:
    """PNG bytes of each (name, data), upright 8-bit RGB, longest side at most `longest`.
    `label_maps` {index: regions}: those pictures are painted regions, refused when they
    have colours or mark a region that is not described (webapp.pictures.read_label_map).

    Raises UploadError naming the first picture that cannot be decoded or used."""
    if not pictures:
        return []
    with tempfile.TemporaryDirectory(prefix="reencode-") as folder:
        for i, (_, data) in enumerate(pictures):
            Path(folder, f"{i}.in").write_bytes(data)
        request = {
            "folder": folder,
            "names": [name for name, _ in pictures],
            "limits": dataclasses.asdict(limits),
            "longest": longest,
            "label_maps": {str(i): n for i, n in (label_maps or {}).items()},
        }
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        try:
            done = subprocess.run(
                [sys.executable, "-m", "styletransfer.reencode"],
                input=json.dumps(request).encode(),
                capture_output=True,
                cwd=ROOT,
                env=env,
                timeout=CHILD_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            raise UploadError(
                f"Reading these pictures took longer than {CHILD_TIMEOUT_S} s; "
                "send smaller pictures."
            ) from exc
        try:
            answer = json.loads(done.stdout.decode().strip().splitlines()[-1])
        except (IndexError, ValueError):
            answer = {"error": "The pictures could not be read within the memory allowed."}
        if done.returncode != 0 or answer.get("error"):
            raise UploadError(answer.get("error") or "The pictures could not be read.")
        return [Path(folder, f"{i}.png").read_bytes() for i in range(len(pictures))]


def shrink(picture: Image.Image, *, longest: int) -> Image.Image:
    """The picture with its longest side at most `longest` (the engine never needs more)."""
    if max(picture.size) <= longest:
        return picture
    scale = longest / max(picture.size)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    return picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _child(request: dict) -> None:
    limits = UploadLimits(**request["limits"])
    label_maps = request.get("label_maps", {})
    for i, name in enumerate(request["names"]):
        data = Path(request["folder"], f"{i}.in").read_bytes()
        if str(i) in label_maps:  # checked as the worker will read it, stored as RGB
            picture = read_label_map(data, name, limits, label_maps[str(i)]).convert("RGB")
        else:
            picture = read_picture(data, name, limits).image
        picture = shrink(picture, longest=request["longest"])
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        Path(request["folder"], f"{i}.png").write_bytes(buffer.getvalue())
        del picture, data  # one picture at a time


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    ceiling = CHILD_MEMORY_MB * 2**20
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (ceiling, hard))
    try:
        _child(json.load(sys.stdin))
    except UploadError as exc:
        print(json.dumps({"error": str(exc)}))
    except MemoryError:
        print(json.dumps({"error": "A picture needs more memory to decode than allowed."}))
    else:
        print(json.dumps({"ok": True}))


if __name__ == "__main__":
    main()
