#!/usr/bin/env bash
# Paper Figs. 4-7 and Tables 7/8 for the toy models of `make demo` (SPEC §7).
#
#   bash tools/demo_figures.sh demo_out      (the last step of tools/demo.sh)
#
# Writes <demo_out>/figures and prints where. Figs. 6/7 compare 1, 2 and 3
# scales; the demo trains the 3-scale RGB stream, so the 1- and 2-scale ones are
# trained here first with the same configuration (runs/rgb_1scale,
# runs/rgb_2scales; skipped when present). Environment:
#   DEMO_FIGURES_SCALES  scale counts to add (default "1 2"; "" adds none)
#   DEMO_FIG4_FRAMES     frame counts K of Fig. 4 (default 1,2,3,5,8,10,15,20,25,30)
# A missing input skips its figure with a message saying what is missing.
set -euo pipefail

DEMO_DIR="${1:-demo_out}"
PY="${PYTHON:-${PY:-.venv/bin/python}}"
SCALES="${DEMO_FIGURES_SCALES-1 2}"
FRAMES="${DEMO_FIG4_FRAMES:-1,2,3,5,8,10,15,20,25,30}"

if [ ! -d "$DEMO_DIR" ]; then
  echo "[demo_figures] no folder $DEMO_DIR: run 'make demo' (tools/demo.sh $DEMO_DIR) first" >&2
  exit 1
fi
if [ ! -x "$PY" ]; then
  PY=python3
fi

RGB_RUN="$DEMO_DIR/runs/rgb"
if [ -n "$SCALES" ] && [ -f "$RGB_RUN/operative_config.gin" ]; then
  for scales in $SCALES; do
    suffix=$([ "$scales" = 1 ] && echo scale || echo scales)
    workdir="$DEMO_DIR/runs/rgb_${scales}${suffix}"
    if [ ! -f "$workdir/last.weights.h5" ]; then
      echo "[demo_figures] training the RGB stream with $scales scale(s) for Figs. 6/7: $workdir"
      "$PY" experiments/train.py --gin_file="$RGB_RUN/operative_config.gin" \
        --gin_bindings="build_stream_model.num_scales = $scales" --workdir="$workdir"
    fi
  done
elif [ -n "$SCALES" ]; then
  echo "[demo_figures] no $RGB_RUN/operative_config.gin: Figs. 6/7 show only the runs found"
fi
"$PY" tools/demo_figures.py --demo_dir="$DEMO_DIR" --frames="$FRAMES"
