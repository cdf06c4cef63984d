#!/usr/bin/env bash
# The device check (issue 15) in one command, on a machine with an NVIDIA GPU:
#
#   bash benchmarks/gpu_check.sh [OUT_DIR] [gpu_check.py options]
#
# OUT_DIR defaults to $OUT (the device tool's result folder) or runs/gpu_check. Uses .venv's
# python where `make setup` made one; otherwise the machine's python3 (with its own CUDA torch),
# installing liverbench itself without dependencies and any wheels carried in .whl/
# (benchmarks/gpu_check_wheels.sh fetches the few a bare PyTorch image lacks).
# `bash benchmarks/gpu_check.sh /tmp/check --cpu-dry-run` checks the script on a CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-runs/gpu_check}}"
shift || true
mkdir -p "$out"
if [ -x .venv/bin/python ]; then
    py=.venv/bin/python
else
    py=python3
    if compgen -G ".whl/*.whl" >/dev/null; then
        $py -m pip install -q --no-index --no-deps --no-compile --target /tmp/liverbench-deps .whl/*.whl
        export PYTHONPATH="/tmp/liverbench-deps${PYTHONPATH:+:$PYTHONPATH}"
    fi
    # the registry finds the built-in methods through the installed distribution's entry points
    $py -m pip install -q --no-index --no-deps --no-build-isolation -e .
fi
export PYTHONUNBUFFERED=1
if command -v nvidia-smi >/dev/null; then nvidia-smi | head -15; fi
set -o pipefail
$py benchmarks/gpu_check.py --out "$out" "$@" 2>&1 | tee "$out/gpu_check.log"
