#!/usr/bin/env bash
# Trains the default model and exports it to models/sprites (tools/train/README.md).
# TRAIN_MINUTES sets the DiT phase's time budget (default 7.2, the shipped first run on a GPU).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/usr/bin/python3}
npx tsx tools/train/make-clips.ts --out tools/train/data/clips --count 60000 --seed 1
"$PY" tools/train/train.py --data tools/train/data/clips --out tools/train/runs/main \
  --minutes "${TRAIN_MINUTES:-7.2}" --ae-steps 4000 --batch 512
"$PY" tools/train/export.py --checkpoint tools/train/runs/main/checkpoint.pt --out models/sprites
npx tsx tools/train/plot-loss.ts docs/training-loss.svg tools/train/runs/main/loss.csv
