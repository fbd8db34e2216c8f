"""tools/demo.sh end to end at the smallest sizes: every program runs and the summary is written.

Accuracy is not asserted here (20 iterations); `make demo` prints it at full size.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from iastp_tf.evaluation.scores import load_scores

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_demo_runs_every_step(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "CLASSES": "2", "VIDEOS_PER_CLASS": "5", "STEPS": "20", "FIGURES": "0",
           "PY": sys.executable}
    result = subprocess.run(["bash", "tools/demo.sh", str(out)], cwd=_REPO, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    summary = (out / "summary.md").read_text()
    for row in ("| RGB stream |", "| flow stream |", "| late fusion RGB + flow", "Prediction for held-out video"):
        assert row in summary, row
    assert "experiments/evaluate.py" in summary and "experiments/fuse.py" in summary
    prediction = json.loads((out / "prediction.json").read_text())
    assert len(prediction["top"]) == 2  # both classes, best first
    assert prediction["top"][0]["probability"] >= prediction["top"][1]["probability"]
    # predict.py prepares the video as the records and the test pipeline do: its fused
    # probabilities equal those from the evaluation scores of the same video.
    video_id = os.path.splitext(os.path.relpath(prediction["video"], out / "toy_videos"))[0]
    logits = sum(
        weight * scores.scores[list(scores.video_ids).index(video_id)]
        for weight, scores in zip((1.0, 1.5), (load_scores(out / "runs" / s / "eval_test" / "scores.npz") for s in ("rgb", "flow")))
    )
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    for entry in prediction["top"]:
        assert entry["probability"] == pytest.approx(expected[entry["index"]], abs=0.02)
    for stream in ("rgb", "flow"):
        assert (out / "runs" / stream / "export" / "saved_model.pb").exists()
        assert (out / "runs" / stream / "eval_test" / "confusion_matrix.csv").exists()


@pytest.mark.slow
def test_demo_ablation_prints_mean_and_std_per_method(tmp_path):
    out = tmp_path / "ablation"
    env = {**os.environ, "CLASSES": "2", "VIDEOS_PER_CLASS": "8", "STEPS": "4", "SEEDS": "0 1",
           "METHODS": "tsn 1scale",
           "PY": sys.executable}
    result = subprocess.run(["bash", "tools/demo_ablation.sh", str(out)], cwd=_REPO, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    table = (out / "ablation.md").read_text()
    assert table in result.stdout
    assert "2 classes (chance 50.0 %)" in table and "6 test videos" in table
    for label, method in (("TSN consensus", "tsn"), ("pyramid attention, 1 scale", "1scale")):
        top1 = [100 * json.loads((out / "runs" / f"{method}_seed{seed}" / "eval_test" / "summary.json").read_text())["top1"]
                for seed in (0, 1)]
        row = next(line for line in table.splitlines() if line.startswith(f"| {label}"))
        assert f"| {np.mean(top1):.1f} ± {np.std(top1, ddof=1):.1f} % |" in row, row
        for seed in (0, 1):
            for program in ("train.py", "evaluate.py"):
                command = next(line for line in table.splitlines()
                               if program in line and line.endswith(f"/{method}_seed{seed}"))
                assert "--gin_file=gin/demo/ablation_" + method + ".gin" in command
    assert "conv1x1" not in table  # only the methods asked for
