#!/usr/bin/env bash
# Train G on one GPU for a fixed wall time from nothing but this repository (docs/training.md, "A timed GPU run
# from the repository alone"): render random DSP synthesizer patches there, then continue the long generator
# run on them.
#
#   bash scripts/gpu_run.sh [RUN_DIR] [MINUTES] [PATCHES]      (defaults: runs/gpu 7 512)
#
# RUN_DIR/corpus: the rendered notes (PATCHES x 88 pitches at velocity 100, one process per core);
# RUN_DIR/model: a copy of runs/generator whose G, G_raw, D and config.json the run replaces.
# Run again to go on where the time ran out. DEVICE=cpu makes a dry run on a machine without a GPU.
# Where librosa or soundfile is missing, the wheels in .whl/ (scripts/gpu_wheels.sh) go to /tmp/site first.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=${1:-runs/gpu}
MINUTES=${2:-7}
PATCHES=${3:-512}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}

if ! "$PY" -c "import librosa, soundfile" 2>/dev/null; then
    if ! compgen -G ".whl/*.whl" > /dev/null; then
        echo "librosa or soundfile is missing and .whl/ holds no wheels: run scripts/gpu_wheels.sh where pip can" \
             "download, and bring .whl/ along with the checkout" >&2
        exit 2
    fi
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
"$PY" -c 'import sys, torch; sys.exit(0 if sys.argv[1] != "cuda" or torch.cuda.is_available() else
         "no GPU: torch.cuda.is_available() is False (DEVICE=cpu for a dry run)")' "$DEVICE"

if [ ! -f "$RUN_DIR/corpus/manifest.csv" ]; then
    "$PY" -m hyperlib corpus --fonts --synth-patches "$PATCHES" --velocities 100 --seed 1 \
        --workers "$(nproc)" -o "$RUN_DIR/corpus"
fi
if [ ! -f "$RUN_DIR/model/config.json" ]; then
    mkdir -p "$RUN_DIR/model"
    cp -L runs/generator/{f,G,G_raw,D}.safetensors runs/generator/{config,hashes}.json "$RUN_DIR/model/"
    FRESH=(--warm-start --fresh)
else
    FRESH=()  # a second call goes on from the saved state
fi
"$PY" -m hyperlib train generator --corpus "$RUN_DIR/corpus" --model "$RUN_DIR/model" --device "$DEVICE" \
    "${FRESH[@]}" --steps 1000000 --batch-size 32 --warmup-steps 100 --ckpt-every 500 --seed 10 \
    --max-minutes "$MINUTES"
