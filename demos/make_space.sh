#!/usr/bin/env bash
# Assemble a Hugging Face Space folder from this repository: ./demos/make_space.sh OUT_DIR
#
# OUT_DIR gets the Space's files at its root: app.py (which starts the app), README.md (the Space card),
# requirements.txt, packages.txt (Debian packages: the `rubberband` command of the faithful method's far shifts), the app's package demos/, the hyperlib package, checkpoints/ (safetensors, JSON and the model
# card only) and examples/. Push it with
#   hf upload USER/SPACE_NAME OUT_DIR . --repo-type space
# (or git with Git LFS / Xet for the .safetensors, .ogg and .aif files).
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$1"
if [[ -e "$out" && -n "$(ls -A "$out" 2>/dev/null)" ]]; then
  echo "error: $out exists and is not empty; give a new or empty folder" >&2
  exit 1
fi
mkdir -p "$out/demos" "$out/checkpoints" "$out/examples"

cp "$repo/demos/README.md" "$repo/demos/requirements.txt" "$repo/demos/packages.txt" "$out/"
cat > "$out/app.py" <<'EOF'
"""The Space's entry point: the hyperlib app, the package demos/ beside this file."""
from demos.app import main

main()
EOF
# the app's package: its modules and the Keyboard tab's page code
cp "$repo"/demos/*.py "$repo"/demos/keyboard.js "$repo"/demos/keyboard.css "$out/demos/"
# the library, without caches
tar -C "$repo" --exclude='__pycache__' --exclude='*.pyc' -cf - hyperlib | tar -C "$out" -xf -
# weights are data: safetensors, JSON (config.json, hashes.json) and the model card; never _train/ state
shopt -s nullglob
cp "$repo"/checkpoints/*.safetensors "$repo"/checkpoints/*.json "$repo"/checkpoints/*.md "$out/checkpoints/"
cp "$repo"/examples/* "$out/examples/"

for net in f G E H H_pre; do
  [[ -f "$out/checkpoints/$net.safetensors" ]] || echo "warning: checkpoints/$net.safetensors is missing; the Space will not start until the model is trained" >&2
done
[[ -f "$out/checkpoints/hashes.json" ]] || echo "warning: checkpoints/hashes.json is missing; record the weights' sha256 with: python -c 'from hyperlib.checkpoint import write_hashes; write_hashes(\"checkpoints\")'" >&2
echo "Space folder ready: $out"
