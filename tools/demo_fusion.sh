#!/usr/bin/env bash
# Table 11 on a CPU (issue 8, SPEC §6): late fusion vs attention fusion, an extra motion-compensated
# flow stream and a motion-reinforced RGB stream, on toy videos whose whole scene pans (so raw flow
# mixes camera and object motion). Tiny backbones, the demo's schedule. Prints a table:
# mode | top-1 | the command that produced it.
#
#   bash tools/demo_fusion.sh [OUT_DIR]        (make demo-fusion: OUT_DIR = demo_fusion_out)
#
# Sizes through the environment: CLASSES, VIDEOS_PER_CLASS, STEPS (default: gin/demo/demo.gin's).
# Re-running skips finished steps. The single streams use gin/demo/*.gin (as make demo does); the
# two-stream models use the UCF101 Table 11 files (gin/ucf101/table11_*.gin) with
# OUT_DIR/toy_fusion.gin on top: gin/demo/demo.gin's settings (tiny backbone, optimiser, schedule,
# attention losses), its stream-model lines repeated for the two-stream builders.
set -euo pipefail

OUT=${1:-demo_fusion_out}
PY=${PY:-.venv/bin/python}
CLASSES=${CLASSES:-6}
VIDEOS_PER_CLASS=${VIDEOS_PER_CLASS:-30}
STEPS=${STEPS:-}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
mkdir -p "$OUT"
VIDEOS=$OUT/toy_pan_videos
RECORDS=$OUT/records
RUNS=$OUT/runs
COMMANDS=$OUT/commands.txt
TABLE=$OUT/table11.md
touch "$COMMANDS"

source "$(dirname "$0")/demo_run.sh"  # run CMD...: logged to $COMMANDS

# 1. Toy videos with camera pan; records with TV-L1 flow and motion-compensated flow (flow_mc).
if [ ! -f "$RECORDS/dataset.json" ]; then
  run "$PY" tools/make_toy_dataset.py --output_dir="$VIDEOS" --camera_pan --num_classes="$CLASSES" \
    --videos_per_class="$VIDEOS_PER_CLASS"
  run "$PY" tools/prepare_dataset.py --dataset=ucf101 --videos_dir="$VIDEOS" --output_dir="$RECORDS" \
    --resize=none --flow=tvl1 --tvl1_scales=3 --tvl1_warps=3 --flow_compensation --workers=2 --noprogress
fi
NUM_CLASSES=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['num_classes'])" "$RECORDS/dataset.json")
DATA=(--gin_bindings="DATA_DIR = '$RECORDS'" --gin_bindings="NUM_CLASSES = $NUM_CLASSES" --gin_bindings="train.verbose = 0")
if [ -n "$STEPS" ]; then
  DATA+=(--gin_bindings="train.total_steps = $STEPS"
    --gin_bindings="learning_rate_schedule.boundaries = ($((STEPS * 3 / 4)),)")
fi

# gin/demo/demo.gin without its include (the Table 11 files include the paper's base), its
# build_stream_model lines (dropout, attention losses) repeated for the two-stream builders.
TOY_FUSION_GIN=$OUT/toy_fusion.gin
{
  echo "# Written by tools/demo_fusion.sh from gin/demo/demo.gin, for gin/ucf101/table11_*.gin."
  grep -v '^include' gin/demo/demo.gin
  for builder in build_attention_fusion_model build_motion_reinforced_model; do
    grep -E '^build_stream_model\.(dropout|attention_kwargs) ' gin/demo/demo.gin | sed "s/^build_stream_model/$builder/" || true
  done
} >"$TOY_FUSION_GIN"

# 2. Train and evaluate one model: NAME GIN_FILE... [-- BINDING...].
model() {
  local name=$1
  shift
  local args=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=(--gin_file="$1"); shift; done
  [ $# -gt 0 ] && shift
  for binding in "$@"; do args+=(--gin_bindings="$binding"); done
  if [ ! -f "$RUNS/$name/eval_test/summary.json" ]; then
    run "$PY" experiments/train.py "${args[@]}" "${DATA[@]}" --workdir="$RUNS/$name"
    run "$PY" experiments/evaluate.py "${args[@]}" "${DATA[@]}" --workdir="$RUNS/$name"
  fi
}
model rgb gin/demo/rgb.gin
model flow gin/demo/flow.gin
model flow_mc gin/demo/flow.gin -- "MODALITY = 'flow_mc'"
model attention_fusion gin/ucf101/table11_attention_fusion.gin "$TOY_FUSION_GIN"
model motion_reinforced_rgb gin/ucf101/table11_motion_reinforced.gin "$TOY_FUSION_GIN"
# Variants: the flow input of both two-stream models is the motion-compensated flow.
FLOW_MC_INPUT="make_dataset.modality = ('rgb', 'flow_mc')"
model attention_fusion_flow_mc gin/ucf101/table11_attention_fusion.gin "$TOY_FUSION_GIN" -- \
  "$FLOW_MC_INPUT" "build_attention_fusion_model.flow_modality = 'flow_mc'"
model motion_reinforced_rgb_flow_mc gin/ucf101/table11_motion_reinforced.gin "$TOY_FUSION_GIN" -- \
  "$FLOW_MC_INPUT" "build_motion_reinforced_model.flow_modality = 'flow_mc'"

# 3. Late fusion with the Table 11 files' weights (RGB 1 : flow 1.5; three streams 1 : 0.75 : 0.75).
fuse() {
  local name=$1 gin_file=$2
  shift 2
  local files
  files=$(printf "'$RUNS/%s/eval_test/scores.npz', " "$@")
  run "$PY" experiments/fuse.py --gin_file="$gin_file" --gin_bindings="fuse.score_files = [${files%, }]" \
    --workdir="$RUNS/$name" >/dev/null
}
fuse late_fusion gin/ucf101/table11_late_fusion.gin rgb flow
fuse late_fusion_with_flow_mc gin/ucf101/table11_motion_compensated.gin rgb flow flow_mc
fuse motion_reinforced_with_flow_mc gin/ucf101/table11_motion_reinforced.gin motion_reinforced_rgb flow flow_mc
fuse motion_reinforced_flow_mc_with_flow_mc gin/ucf101/table11_motion_reinforced.gin \
  motion_reinforced_rgb_flow_mc flow flow_mc

# 4. The table: every accuracy with the command that produced it.
"$PY" - "$RUNS" "$COMMANDS" "$TABLE" <<'EOF'
import json, os, sys

runs, commands_path, table_path = sys.argv[1:]
commands = open(commands_path).read().splitlines()
rows = [
    ("RGB stream", "rgb", "evaluate.py"),
    ("flow stream", "flow", "evaluate.py"),
    ("motion-compensated flow stream", "flow_mc", "evaluate.py"),
    ("late fusion: RGB + flow (Table 11, 95.1%)", "late_fusion", "fuse.py"),
    ("attention fusion (Table 11, 95.4%)", "attention_fusion", "evaluate.py"),
    ("late fusion: RGB + flow + compensated flow (Table 11, 95.8%)", "late_fusion_with_flow_mc", "fuse.py"),
    ("motion-reinforced RGB stream", "motion_reinforced_rgb", "evaluate.py"),
    ("late fusion: reinforced RGB + flow + compensated flow (Table 11, 96.2%)", "motion_reinforced_with_flow_mc", "fuse.py"),
    ("variant: attention fusion of RGB and compensated flow", "attention_fusion_flow_mc", "evaluate.py"),
    ("variant: RGB reinforced by compensated flow", "motion_reinforced_rgb_flow_mc", "evaluate.py"),
    ("variant: late fusion: that RGB + flow + compensated flow", "motion_reinforced_flow_mc_with_flow_mc", "fuse.py"),
]
lines = ["| mode | top-1 | command |", "|---|---|---|"]
for mode, name, program in rows:
    workdir = os.path.join(runs, name)
    if program == "evaluate.py":
        top1 = json.load(open(os.path.join(workdir, "eval_test", "summary.json")))["top1"]
    else:
        top1 = json.load(open(os.path.join(workdir, "fusion.json")))["fused"]["top1"]
    command = next((c for c in reversed(commands) if program in c and c.endswith(f"--workdir={workdir}")), "(earlier run)")
    lines.append(f"| {mode} | {100 * top1:.1f}% | `{command}` |")
table = "\n".join(lines)
with open(table_path, "w") as f:
    f.write(table + "\n")
print(table)
print(f"\nTable in {table_path}; every command run in {commands_path}.")
EOF
