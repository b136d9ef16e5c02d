#!/usr/bin/env bash
# Download into .whl/ the wheels that scripts/gpu_run.sh installs on a GPU image that has PyTorch, NumPy,
# SciPy, Numba and scikit-learn but not librosa or soundfile (CPython 3.12, x86-64 Linux by default).
#   bash scripts/gpu_wheels.sh [PYTHON_VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "${1:-3.12}" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
    librosa==0.11.0 soundfile==0.14.0 soxr==1.1.0 audioread==3.1.0 decorator==5.2.1 pooch==1.9.0 \
    platformdirs==4.14.9 cffi==2.0.0 pycparser==3.0
du -sh .whl
