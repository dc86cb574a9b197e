#!/usr/bin/env bash
# The GPU machine's side of `make gpu-check`: one command, run there by the device tool
# with the model files and .whl/carry (from bench/gpu_wheels.sh) carried along
# (docs/benchmarks.md, "GPU"). Unpacks the worker's packages and redis-server under /tmp,
# then runs the whole check and the CUDA tests. Everything it writes lands in $OUT:
# gpu_check.json, gpu_check.log, gpu_worker.log, pytest_gpu.log.
# Exit status: the check's (1 on any disagreement, failure or skipped check), else pytest's.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
OUT=${OUT:-bench/results}
export OUT PYTHONUNBUFFERED=1
mkdir -p "$OUT"
site=/tmp/gpu-check/site
rootfs=/tmp/gpu-check/redis
mkdir -p "$site" "$rootfs/bin"

if [ -f .whl/carry/worker-site.tar.xz ]; then
  "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")' \
    .whl/carry/worker-site.tar.xz "$site"
  export PYTHONPATH=$site
fi
if ! command -v redis-server >/dev/null; then
  for deb in .whl/carry/*.deb; do dpkg -x "$deb" "$rootfs"; done
  # Debian's libraries for redis-server alone: on LD_LIBRARY_PATH they could shadow the
  # system's for Python and torch.
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' \
    "$rootfs/usr/lib/x86_64-linux-gnu" "$rootfs/usr/bin/redis-server" >"$rootfs/bin/redis-server"
  chmod +x "$rootfs/bin/redis-server"
  export PATH=$rootfs/bin:$PATH
fi

echo "==> the machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())"
redis-server --version || ldd "$rootfs/usr/bin/redis-check-rdb"

echo "==> bench/gpu_check.py --strict"
timeout 420 "$PY" bench/gpu_check.py --strict "$@" 2>&1 | tee "$OUT/gpu_check.log"
check=${PIPESTATUS[0]}

echo "==> the CUDA tests (tests/gpu)"
timeout 120 "$PY" -m pytest tests/gpu -ra -q -p no:cacheprovider --ds=bench.gpu_settings \
  2>&1 | tee "$OUT/pytest_gpu.log"
tests=${PIPESTATUS[0]}
echo "==> gpu_check exit $check, pytest exit $tests"
[ "$check" = 0 ] || exit "$check"
exit "$tests"
