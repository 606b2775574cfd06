#!/usr/bin/env bash
# The prepared GPU measurement (issue "GPU figures"): one run of `sagebench gpu-report` on a lent GPU
# machine, which has python3 + torch but no network and none of sagebench's pure-Python dependencies.
#
# Once, here (with network), from the repository root:
#   echo /.whl/ >> .git/info/exclude; echo /.gpu/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
#       -d .whl mmengine==0.10.7 addict yapf termcolor PyWavelets segment-anything platformdirs
#   mkdir -p .gpu/weights && cp ../shared/weights/sage_student_official.pt .gpu/weights/
# Then the device tool's run, with carry [".whl", ".gpu"] and timeout_s 600:
#   bash tools/gpu_run.sh
# The report comes back as $OUT/gpu_report.{json,md}; commit it under results/gpu/ and update the docs.
set -uo pipefail
OUT="${OUT:-/tmp/gpu_report}"
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "wheel install failed"; exit 1; }
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir --target /tmp/sb . \
    || { echo "sagebench install failed"; exit 1; }
export PYTHONPATH=/tmp/sb:$PYTHONPATH PYTHONUNBUFFERED=1 SAGEBENCH_OFFLINE=1 SAGEBENCH_HOME=/tmp/sbhome
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
timeout 540 python3 -m sagebench.benchmark.cli gpu-report --out "$OUT" --weights-dir .gpu/weights --budget-s 450 \
    2>&1 | tee "$OUT/gpu_report.log"
exit "${PIPESTATUS[0]}"
