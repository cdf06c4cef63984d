#!/usr/bin/env bash
# Fetch, here, the wheels that a bare PyTorch GPU image (Python 3.12, x86-64) lacks for
# benchmarks/gpu_check.sh, into .whl/ (git-ignored); carry that folder to the GPU machine.
# Ray (79 MB) and SimpleITK (53 MB) are left out: they exceed what the device tool carries, and
# the check needs neither (without Ray its `liverbench run` uses the local backend).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl nibabel edt
ls -la .whl
