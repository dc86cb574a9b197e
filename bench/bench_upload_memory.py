"""Memory of the web process under tiny uploads that decode huge (issue 10, item 1).

    .venv/bin/python bench/bench_upload_memory.py [--requests 6]

A 1-bit PNG of 6324x6324 pixels (40 Mpx, the per-picture limit) is about 5 KB on the
wire and 120 MB once decoded to RGB. Against a real daphne (started as the tests and
`make run` start it), one logged-in user posts the style-transfer form:
1. `--requests` times a photo + 8 styles of such PNGs (360 Mpx declared, about 44 KB):
   refused from the headers by the per-request pixel budget (400);
2. `--requests` times a photo + 4 styles (200 Mpx, at the budget): accepted; the pictures
   are decoded and re-encoded in a short-lived child process (styletransfer/reencode.py),
   jobs are queued (no worker runs).
Prints the web process's resident memory (VmRSS) after a warm-up, after 1. and after 2.
Uses a throw-away SQLite database and its own redis-server.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_load import Browser, rss_mb  # noqa: E402
from localstack import setup_django, start_daphne, start_redis  # noqa: E402

SIDE = 6324  # 6324**2 is just under 40 million pixels


def huge_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (SIDE, SIDE)).save(out, "PNG")
    return out.getvalue()


def post_style_form(client: Browser, pictures: int, png: bytes) -> int:
    """POST /style/ with a photo and `pictures - 1` uploaded styles; the answer's status."""
    fields = {
        "preset": "quick",
        "size": "256",
        "steps": "8",
        "levels": "2",
        "coarse_steps": "20",
        "style_weight": "3",
        "content_weight": "1",
        "tv_weight": "0",
        "optimizer": "lbfgs",
        "learning_rate": "0.02",
        "init": "content",
        "pooling": "max",
        "preserve_color": "none",
        "seed": "0",
    }
    files = [("content" if i == 0 else "styles", f"p{i}.png", png) for i in range(pictures)]
    return client.post_form("/style/", fields, files, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=6)
    args = parser.parse_args()
    png = huge_png()
    redis, redis_url = start_redis()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = setup_django(
                Path(tmp), redis_db=0, REDIS_URL=redis_url, USER_MAX_ACTIVE_JOBS="1000"
            )
            from django.contrib.auth import get_user_model

            get_user_model().objects.create_user(username="uploader", password="pw-bench-123")
            daphne, port = start_daphne(env)
            try:
                client = Browser(f"http://127.0.0.1:{port}")
                client.login("uploader", "pw-bench-123")
                client.get("/style/")
                post_style_form(client, 2, png)  # warm-up: the first form, the first child
                before = rss_mb(daphne.pid)
                print(f"one picture: {len(png):,} bytes, {SIDE}x{SIDE} pixels")
                print(f"web process after warm-up: {before:.0f} MB")
                for pictures, what in ((9, "photo + 8 styles"), (5, "photo + 4 styles")):
                    started = time.perf_counter()
                    statuses = [
                        post_style_form(client, pictures, png) for _ in range(args.requests)
                    ]
                    seconds = (time.perf_counter() - started) / args.requests
                    print(
                        f"after {args.requests} x {what} ({pictures * len(png) / 1024:.0f} KB "
                        f"each, answers {sorted(set(statuses))}, {seconds:.1f} s each): "
                        f"{rss_mb(daphne.pid):.0f} MB"
                    )
            finally:
                daphne.terminate()
                daphne.wait(10)
    finally:
        redis.terminate()
        redis.wait(10)


if __name__ == "__main__":
    main()
