#!/usr/bin/env bash
# Paper Figs. 4-7 and Tables 7/8 for the toy models of `make demo` (SPEC §7).
#
#   bash tools/demo_figures.sh demo_out      (the last step of tools/demo.sh)
#
# Writes <demo_out>/figures and prints where. Figs. 4/5 and Tables 7/8 come from the demo's RGB runs.
# Figs. 6/7 compare 1, 2 and 3 scales where attention has something to choose: on sparse-evidence toy
# videos (the class's shape in one of three time spans, among distractors; as in make demo-ablation),
# written to <demo_out>/sparse with RGB streams trained there with the demo's RGB configuration
# (sparse/runs/rgb_1scale, rgb_2scales, rgb_3scales; skipped when present). Environment:
#   DEMO_FIGURES_SCALES   scale counts to train for Figs. 6/7 (default "1 2 3"; "" trains none, and
#                         Figs. 6/7 then show the demo's own pyramid runs)
#   DEMO_FIGURES_VIDEOS   sparse-evidence videos per class (default 24)
#   DEMO_FIG4_FRAMES      frame counts K of Fig. 4 (default 1,2,3,5,8,10,15,20,25,30)
# A missing input skips its figure with a message saying what is missing.
set -euo pipefail

DEMO_DIR="${1:-demo_out}"
PY="${PYTHON:-${PY:-.venv/bin/python}}"
SCALES="${DEMO_FIGURES_SCALES-1 2 3}"
VIDEOS_PER_CLASS="${DEMO_FIGURES_VIDEOS:-24}"
FRAMES="${DEMO_FIG4_FRAMES:-1,2,3,5,8,10,15,20,25,30}"

if [ ! -d "$DEMO_DIR" ]; then
  echo "[demo_figures] no folder $DEMO_DIR: run 'make demo' (tools/demo.sh $DEMO_DIR) first" >&2
  exit 1
fi
if [ ! -x "$PY" ]; then
  PY=python3
fi

RGB_RUN="$DEMO_DIR/runs/rgb"
SPARSE="$DEMO_DIR/sparse"
if [ -n "$SCALES" ] && [ -f "$RGB_RUN/operative_config.gin" ]; then
  if [ ! -f "$SPARSE/records/dataset.json" ]; then
    classes=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['num_classes'])" "$DEMO_DIR/records/dataset.json")
    echo "[demo_figures] sparse-evidence toy videos for Figs. 6/7: $SPARSE"
    "$PY" tools/make_toy_dataset.py --output_dir="$SPARSE/toy_videos" --num_classes="$classes" \
      --videos_per_class="$VIDEOS_PER_CLASS" --frames=18 --evidence_spans=3 --distractors=2 --appearance_correlation=1
    "$PY" tools/prepare_dataset.py --dataset=ucf101 --videos_dir="$SPARSE/toy_videos" --output_dir="$SPARSE/records" \
      --resize=none --flow=none --workers=2 --noprogress
  fi
  for scales in $SCALES; do
    suffix=$([ "$scales" = 1 ] && echo scale || echo scales)
    workdir="$SPARSE/runs/rgb_${scales}${suffix}"
    if [ ! -f "$workdir/last.weights.h5" ]; then
      echo "[demo_figures] training the RGB stream with $scales scale(s) for Figs. 6/7: $workdir"
      "$PY" experiments/train.py --gin_file="$RGB_RUN/operative_config.gin" \
        --gin_bindings="build_stream_model.num_scales = $scales" --gin_bindings="DATA_DIR = '$SPARSE/records'" \
        --workdir="$workdir"
    fi
  done
elif [ -n "$SCALES" ]; then
  echo "[demo_figures] no $RGB_RUN/operative_config.gin: Figs. 6/7 show only the runs found"
fi
"$PY" tools/demo_figures.py --demo_dir="$DEMO_DIR" --frames="$FRAMES"
