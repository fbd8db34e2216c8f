#!/usr/bin/env bash
# Paper Figs. 4-7 and Tables 7/8 for the toy models of `make demo` (SPEC §7).
# Called at the end of tools/demo.sh as: bash tools/demo_figures.sh demo_out
# Writes <demo_out>/figures and prints where; a missing input skips its figure
# with a message saying what is missing.
set -euo pipefail

DEMO_DIR="${1:-demo_out}"
PY="${PYTHON:-.venv/bin/python}"
# Fewer K than the paper's 1..30 keeps the demo short; any list works.
FRAMES="${DEMO_FIG4_FRAMES:-1,2,3,5,8,10,15,20,25,30}"

if [ ! -d "$DEMO_DIR" ]; then
  echo "[demo_figures] no folder $DEMO_DIR: run 'make demo' (tools/demo.sh $DEMO_DIR) first" >&2
  exit 1
fi
if [ ! -x "$PY" ]; then
  PY=python3
fi
"$PY" tools/demo_figures.py --demo_dir="$DEMO_DIR" --frames="$FRAMES"
