#!/usr/bin/env bash
# Does attention help where it has something to choose? (issue 17; paper §3, Tables 2 and 5.)
# On the sparse-evidence toy videos (the class's shape is in one of three time spans, at a random
# place, among distractor shapes that every class shares; iastp_tf/data/prepare/toy.py), trains and
# evaluates the RGB stream with TSN consensus, the 1x1-conv attention and pyramid attention with 1, 2
# and 3 scales, each with SEEDS training seeds on the same videos, and prints one table: mean ± std
# of top-1 per method, the chance level and the command of each run.
#
#   bash tools/demo_ablation.sh [OUT_DIR]       (make demo-ablation: OUT_DIR = demo_ablation_out)
#
# Sizes through the environment: CLASSES, VIDEOS_PER_CLASS, SEEDS (the list of training seeds),
# STEPS (default: gin/demo/demo.gin's 600), METHODS (a subset of "tsn conv1x1 1scale 2scales
# 3scales": gin/demo/ablation_<method>.gin); smoke tests use less. Re-running skips finished runs.
set -euo pipefail

OUT=${1:-demo_ablation_out}
PY=${PY:-.venv/bin/python}
CLASSES=${CLASSES:-6}
VIDEOS_PER_CLASS=${VIDEOS_PER_CLASS:-40}
SEEDS=${SEEDS:-0 1 2}
METHODS=${METHODS:-tsn conv1x1 1scale 2scales 3scales}
STEPS=${STEPS:-}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
mkdir -p "$OUT"
VIDEOS=$OUT/toy_sparse_videos
RECORDS=$OUT/records
RUNS=$OUT/runs
COMMANDS=$OUT/commands.txt
TABLE=$OUT/ablation.md
LOAD=$OUT/load.txt  # the 1-minute load average before each step, to judge the wall time
START=$(date +%s)
touch "$COMMANDS"
: >"$LOAD"

source "$(dirname "$0")/demo_run.sh"  # run CMD...: logged to $COMMANDS

# 1. Sparse-evidence toy videos: 18 frames = 3 spans of 6, so each of the K = 3 training segments
# is one span and exactly one of them shows the class; 40 % of each class held out for testing.
if [ ! -f "$RECORDS/dataset.json" ]; then
  run "$PY" tools/make_toy_dataset.py --output_dir="$VIDEOS" --num_classes="$CLASSES" \
    --videos_per_class="$VIDEOS_PER_CLASS" --frames=18 --evidence_spans=3 --distractors=2 \
    --appearance_correlation=1 --test_fraction=0.4 --seed=0
  run "$PY" tools/prepare_dataset.py --dataset=ucf101 --videos_dir="$VIDEOS" --output_dir="$RECORDS" \
    --resize=none --flow=none --workers=2 --noprogress
fi
NUM_CLASSES=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['num_classes'])" "$RECORDS/dataset.json")
DATA=(--gin_bindings="DATA_DIR = '$RECORDS'" --gin_bindings="NUM_CLASSES = $NUM_CLASSES" --gin_bindings="train.verbose = 0")
if [ -n "$STEPS" ]; then
  DATA+=(--gin_bindings="train.total_steps = $STEPS"
    --gin_bindings="learning_rate_schedule.boundaries = ($((STEPS * 3 / 4)),)")
fi

# 2. Each method x seed: train, then evaluate on the test list.
for method in $METHODS; do
  for seed in $SEEDS; do
    workdir=$RUNS/${method}_seed$seed
    if [ ! -f "$workdir/eval_test/summary.json" ]; then
      cut -d' ' -f1 /proc/loadavg >>"$LOAD"
      run "$PY" experiments/train.py --gin_file="gin/demo/ablation_$method.gin" "${DATA[@]}" \
        --gin_bindings="train.seed = $seed" --workdir="$workdir"
      run "$PY" experiments/evaluate.py --gin_file="gin/demo/ablation_$method.gin" "${DATA[@]}" \
        --workdir="$workdir"
    fi
  done
done
cut -d' ' -f1 /proc/loadavg >>"$LOAD"
# CPU seconds (user + sys) of every step this run, which the load of other processes does not inflate.
times >"$OUT/times.txt"  # in this shell: a pipeline would time a subshell
CPU_SECONDS=$(tail -n 1 "$OUT/times.txt" | awk '{ for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += 60 * t[1] + t[2] } } END { printf "%.0f", s }')

# 3. The table: mean ± sample standard deviation of top-1 over the seeds, and every command.
"$PY" - "$RUNS" "$COMMANDS" "$TABLE" "$RECORDS/dataset.json" "$LOAD" "$(($(date +%s) - START))" "$CPU_SECONDS" "$SEEDS" "$METHODS" <<'PYEOF'
import json, os, statistics, sys

runs, commands_path, table_path, dataset_json, load_path, seconds, cpu_seconds, seeds, chosen = sys.argv[1:]
seeds, chosen = seeds.split(), chosen.split()
commands = open(commands_path).read().splitlines()
info = json.load(open(dataset_json))
num_classes = info["num_classes"]
test_videos = info["splits"].get("test", "?")
labels = [
    ("TSN consensus (no attention, 0 scales)", "tsn"),
    ("1x1-conv attention, 3 scales (Table 5 baseline)", "conv1x1"),
    ("pyramid attention, 1 scale", "1scale"),
    ("pyramid attention, 2 scales", "2scales"),
    ("pyramid attention, 3 scales", "3scales"),
]
methods = [(label, method) for label, method in labels if method in chosen]
lines = ["| method | top-1, mean ± std | per seed |", "|---|---|---|"]
run_lines = []
for label, method in methods:
    top1 = []
    for seed in seeds:
        workdir = os.path.join(runs, f"{method}_seed{seed}")
        top1.append(100 * json.load(open(os.path.join(workdir, "eval_test", "summary.json")))["top1"])
        for program in ("train.py", "evaluate.py"):
            command = next((c for c in reversed(commands) if program in c and c.endswith(f"--workdir={workdir}")),
                           "(earlier run)")
            run_lines.append(f"    {command}")
    spread = statistics.stdev(top1) if len(top1) > 1 else float("nan")
    lines.append(f"| {label} | {statistics.mean(top1):.1f} ± {spread:.1f} % | "
                 f"{', '.join(f'{t:.1f}' for t in top1)} |")
loads = [float(x) for x in open(load_path).read().split()]
text = "\n".join([
    f"Sparse-evidence toy ablation: {num_classes} classes (chance {100 / num_classes:.1f} %), "
    f"{test_videos} test videos, training seeds {', '.join(seeds)}; std over seeds (n - 1).",
    "",
    *lines,
    "",
    f"Wall time {seconds} s, CPU time {cpu_seconds} s (user + sys, this run's steps; finished runs are skipped); "
    f"1-minute load average before the steps: min {min(loads):.1f}, mean {sum(loads) / len(loads):.1f}, "
    f"max {max(loads):.1f} (on {os.cpu_count()} cores).",
    "",
    "Commands (train, then evaluate, per run):",
    *run_lines,
])
open(table_path, "w").write(text + "\n")
print(text)
print(f"\nTable in {table_path}; every command run in {commands_path}.")
PYEOF
