"""Run every benchmark in turn (`make bench`); each prints its own table and ratios.

They take a while on a 2-core CPU (the style-transfer one most: ~10 minutes). Run one
alone with `.venv/bin/python bench/bench_<name>.py --help`.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHES = [
    "bench_detection.py",
    "bench_detection_video.py",
    "bench_detection_windows.py",
    "bench_playground.py",
    "bench_websocket.py",
    "bench_styletransfer.py",
]

if __name__ == "__main__":
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    failed = []
    for name in BENCHES:
        print(f"\n=== {name}", flush=True)
        if subprocess.run(
            [sys.executable, str(ROOT / "bench" / name)], cwd=ROOT, env=env
        ).returncode:
            failed.append(name)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")
