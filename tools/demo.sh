#!/usr/bin/env bash
# The whole path on a CPU in minutes (make demo): toy videos -> TV-L1 flow -> records -> train the RGB and
# flow streams (tiny backbone, 3-scale pyramid attention) -> evaluate -> late fusion -> export -> predict a
# held-out video. Prints every accuracy with the command that produced it, and where the outputs are.
#
#   bash tools/demo.sh [OUT_DIR]          (make demo: OUT_DIR = demo_out)
#
# Sizes can be changed through the environment: CLASSES, VIDEOS_PER_CLASS, STEPS (smoke tests use less);
# FIGURES=0 skips the figures step.
# Re-running skips the finished steps (a killed training run resumes at its last checkpoint).
set -euo pipefail

OUT=${1:-demo_out}
PY=${PY:-.venv/bin/python}
CLASSES=${CLASSES:-4}
VIDEOS_PER_CLASS=${VIDEOS_PER_CLASS:-24}
STEPS=${STEPS:-600}
FIGURES=${FIGURES:-1}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
mkdir -p "$OUT"
VIDEOS=$OUT/toy_videos
RECORDS=$OUT/records
RUNS=$OUT/runs
COMMANDS=$OUT/commands.txt
SUMMARY=$OUT/summary.md
START=$(date +%s)
: >"$COMMANDS"

source "$(dirname "$0")/demo_run.sh"  # run CMD...: logged to $COMMANDS

# 1. Toy videos (class = motion of a shape) and records with TV-L1 flow.
if [ ! -f "$RECORDS/dataset.json" ]; then
  run "$PY" tools/make_toy_dataset.py --output_dir="$VIDEOS" --num_classes="$CLASSES" \
    --videos_per_class="$VIDEOS_PER_CLASS"
  run "$PY" tools/prepare_dataset.py --dataset=ucf101 --videos_dir="$VIDEOS" --output_dir="$RECORDS" \
    --resize=none --flow=tvl1 --tvl1_scales=3 --tvl1_warps=3 --workers=2 --noprogress
fi
NUM_CLASSES=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['num_classes'])" "$RECORDS/dataset.json")
DATA=(--gin_bindings="DATA_DIR = '$RECORDS'" --gin_bindings="NUM_CLASSES = $NUM_CLASSES"
  --gin_bindings="train.total_steps = $STEPS" --gin_bindings="train.verbose = 0")

# 2. Train, evaluate and export each stream: NAME GIN_FILE.
stream() {
  local name=$1 gin_file=$2
  if [ ! -f "$RUNS/$name/eval_test/summary.json" ]; then
    run "$PY" experiments/train.py --gin_file="$gin_file" "${DATA[@]}" --workdir="$RUNS/$name"
    run "$PY" experiments/evaluate.py --gin_file="$gin_file" "${DATA[@]}" --workdir="$RUNS/$name"
  fi
  if [ ! -f "$RUNS/$name/export/saved_model.pb" ]; then
    run "$PY" experiments/export.py --gin_file="$gin_file" "${DATA[@]}" --workdir="$RUNS/$name"
  fi
}
stream rgb gin/demo/rgb.gin
stream flow gin/demo/flow.gin
stream rgb_no_attention gin/demo/rgb_no_attention.gin

# 3. Late fusion of the two streams' test scores (TSN weights RGB 1 : flow 1.5).
run "$PY" experiments/fuse.py --workdir="$RUNS/fusion" \
  --gin_bindings="fuse.score_files = ['$RUNS/rgb/eval_test/scores.npz', '$RUNS/flow/eval_test/scores.npz']" \
  --gin_bindings="fuse.weights = [1.0, 1.5]" >/dev/null

# 4. Predict a held-out (test-list) video with both exported streams, flow computed on the fly.
VIDEO=$VIDEOS/$(head -n 1 "$VIDEOS/testlist01.txt" | cut -d' ' -f1)
run "$PY" experiments/predict.py "$VIDEO" --export_dir="$RUNS/rgb/export" --export_dir="$RUNS/flow/export" \
  --weights=1,1.5 --output_json="$OUT/prediction.json" >"$OUT/prediction.txt"

# 5. Summary: each number with the command that produced it.
"$PY" - "$RUNS" "$COMMANDS" "$SUMMARY" "$VIDEO" "$OUT" "$(($(date +%s) - START))" <<'EOF'
import json, os, sys

runs, commands_path, summary_path, video, out, seconds = sys.argv[1:]
commands = open(commands_path).read().splitlines()
num_classes = json.load(open(os.path.join(out, "records", "dataset.json")))["num_classes"]


def command(program, workdir):
    return next((c for c in commands if program in c and f"--workdir={workdir}" in c), "(from an earlier run)")


lines = [f"| result | top-1 | mean class acc. | command |", "|---|---|---|---|"]
for label, name in (("RGB stream", "rgb"), ("flow stream", "flow"), ("RGB without attention", "rgb_no_attention")):
    workdir = os.path.join(runs, name)
    summary = json.load(open(os.path.join(workdir, "eval_test", "summary.json")))
    lines.append(f"| {label} | {100 * summary['top1']:.1f}% | {100 * summary['mean_class_accuracy']:.1f}% "
                 f"| `{command('evaluate.py', workdir)}` |")
fusion = json.load(open(os.path.join(runs, "fusion", "fusion.json")))["fused"]
lines.append(f"| late fusion RGB + flow (1 : 1.5) | {100 * fusion['top1']:.1f}% | "
             f"{100 * fusion['mean_class_accuracy']:.1f}% | `{command('fuse.py', os.path.join(runs, 'fusion'))}` |")
prediction = json.load(open(os.path.join(out, "prediction.json")))["top"]
true_class = os.path.basename(os.path.dirname(video))
text = "\n".join([
    f"Toy demo: {num_classes} classes, chance {100 / num_classes:.1f}%; {seconds} s in all.",
    "",
    *lines,
    "",
    f"Prediction for held-out video {video} (true class {true_class}):",
    *[f"  {i}. {p['class']} ({p['probability']:.3f})" for i, p in enumerate(prediction, 1)],
    f"  command: `{next(c for c in commands if 'predict.py' in c)}`",
    "",
    f"Outputs: runs (checkpoints, logs, scores, SavedModels) in {runs}; records in {os.path.join(out, 'records')}; "
    f"all commands in {commands_path}; this summary in {summary_path}.",
])
open(summary_path, "w").write(text + "\n")
print(text)
EOF

# 6. The paper's figures for these runs (analysis helper), when that script exists.
if [ "$FIGURES" = 1 ] && [ -f tools/demo_figures.sh ]; then
  bash tools/demo_figures.sh "$OUT"
fi
