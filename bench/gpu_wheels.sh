#!/usr/bin/env bash
# Prepare, on this machine, what the GPU machine needs for `make gpu-check` beyond its own
# Python (3.12 with torch, torchvision, numpy, Pillow, OpenCV, scikit-learn; no internet):
#
#   .whl/*.whl             the pinned runtime requirements (less torch, torchvision, numpy,
#                          pillow) and their dependencies, for CPython 3.12 manylinux x86_64
#   .whl/deb/*.deb         Debian's redis-server and the libraries it needs
#   .whl/carry/            what travels: the worker's packages installed for 3.12 and packed
#                          (worker-site.tar.xz) and the .deb files
#
# and measure the carry against the device tool's 64 MiB limit. docs/benchmarks.md ("GPU")
# has the one command to run there. Needs pip (PyPI) and apt-get (Debian) here.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
LIMIT=$((64 * 1024 * 1024))
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
  --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_5_x86_64)
TARGET=(--python-version 3.12 --implementation cp --only-binary=:all: "${PLATFORMS[@]}")

# Packages the worker half does not carry: PyAV and pycocotools (imported only by clip and
# labelled detection jobs, which the check does not run), those already in the GPU machine's Python (numpy,
# scikit-learn's stack, pytest's), PostgreSQL's driver (the check uses SQLite), and the
# daphne app's Twisted/TLS stack (bench/gpu_settings.py leaves daphne out: a worker never
# serves HTTP).
NOT_CARRIED='^(av|pycocotools|numpy|scipy|scikit_learn|joblib|threadpoolctl|narwhals|pytest|pluggy|iniconfig|pygments|packaging|psycopg|psycopg_binary|daphne|twisted|autobahn|cryptography|cffi|pycparser|pyopenssl|service_identity|txaio|zope_interface|automat|constantly|hyperlink|incremental|attrs|idna|cbor2|ujson|honcho)-'

mkdir -p .whl/deb
rm -rf .whl/carry && mkdir -p .whl/carry
grep -E '^[A-Za-z]' requirements.txt | grep -viE '^(torch|torchvision|numpy|pillow)==' >.whl/requirements-gpu.txt
grep -E '^pytest-django==' requirements-dev.txt >>.whl/requirements-gpu.txt  # tests/gpu there
echo "==> wheels for CPython 3.12 manylinux x86_64 of:" $(cat .whl/requirements-gpu.txt)
"$PY" -m pip download -q "${TARGET[@]}" -d .whl -r .whl/requirements-gpu.txt

echo "==> redis-server and its libraries (Debian amd64; libssl3 in case the machine lacks it)"
apt_opts=(-o APT::Architecture=amd64 -o APT::Architectures=amd64)
(cd .whl/deb && apt-get "${apt_opts[@]}" download -q redis-server redis-tools libjemalloc2 liblzf1 libatomic1 libssl3 >/dev/null)

echo "==> the worker's packages, installed for 3.12 and packed"
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
carried=$(ls .whl/*.whl | xargs -n1 basename | grep -vE "$NOT_CARRIED" | sed 's|^|.whl/|')
"$PY" -m pip install -q --no-index --no-deps --no-compile --target "$site" "${TARGET[@]}" $carried
# translations: the site is in English (LANGUAGE_CODE en-gb); the rest is half of Django
find "$site" -path '*/locale/*' \( -name '*.po' -o -name '*.mo' -not -path '*/locale/en*' \) -delete
tar -cJf .whl/carry/worker-site.tar.xz -C "$site" .
for deb in .whl/deb/*.deb; do  # plain names: the tool carries letters, digits, . _ - best
  cp "$deb" ".whl/carry/$(basename "$deb" | sed 's/_.*//').deb"
done

size() { du -cbL "$@" | tail -1 | cut -f1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
wheels=$(size .whl/*.whl)
bundle=$(size .whl/carry)
models=$(size data/models/vgg19_caffe_q.bin data/models/yolov3-tiny.weights data/models/yolov3-tiny.cfg data/models/coco.names)
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb | tail -1 | cut -f1)
echo "==> sizes"
echo "    all pinned wheels and dependencies (.whl/*.whl): $(mib "$wheels") - over the limit with the models"
echo "    carried: worker packages + redis (.whl/carry):   $(mib "$bundle")"
echo "    carried: model files (data/models, 4 files):     $(mib "$models")"
echo "    the working tree (files git does not ignore):    $(mib "$tree")"
total=$((bundle + models + tree))
echo "    one call carries $(mib "$total") of $(mib "$LIMIT")"
[ "$total" -le "$LIMIT" ] || { echo "over the device tool's limit" >&2; exit 1; }
