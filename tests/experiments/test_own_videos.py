"""The five commands of README "Your own videos" on a tiny folder of toy videos.

Prepare a folder-per-class tree, train the flow stream from ``gin/folder/flow.gin``
(tiny backbone, a few steps), evaluate, export, predict a test video. Serving
and evaluation read the video through the same preparation and test pipeline,
so the prediction's probabilities equal the softmax of the evaluation's
logits for that video (up to float rounding in the model).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from iastp_tf.data.prepare import toy
from iastp_tf.evaluation.scores import load_scores

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*args):
    result = subprocess.run([sys.executable, *args], cwd=_REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args[0]}: {result.stderr[-3000:]}"
    return result.stdout


@pytest.mark.slow
def test_the_five_commands_on_a_folder_of_videos(tmp_path):
    videos, data, workdir = tmp_path / "my_videos", tmp_path / "data", tmp_path / "runs" / "flow"
    # Class folders of .avi files (the split lists beside them are not videos: the folder reader ignores them).
    toy.make_toy_dataset(str(videos), num_classes=2, videos_per_class=4, frames=12, size=(48, 40))
    _run("tools/prepare_dataset.py", "--dataset=folder", f"--videos_dir={videos}",
         f"--output_dir={data}", "--flow=farneback", "--resize=40x32", "--test_fraction=0.5", "--workers=0",
         "--noprogress")
    info = json.loads((data / "dataset.json").read_text())
    assert info["num_classes"] == 2 and info["tvl1"] is None
    gin = ["--gin_file=gin/folder/flow.gin", f"--gin_bindings=DATA_DIR = '{data}'",
           "--gin_bindings=BACKBONE = 'tiny'", "--gin_bindings=WEIGHTS = None",
           "--gin_bindings=train.total_steps = 2", "--gin_bindings=train.batch_size = 2",
           "--gin_bindings=train.verbose = 0", "--gin_bindings=eval/make_dataset.num_segments = 4",
           "--gin_bindings=export.num_segments = 4", f"--workdir={workdir}"]
    _run("experiments/train.py", *gin)
    _run("experiments/evaluate.py", *gin)
    _run("experiments/export.py", *gin)
    scores = load_scores(workdir / "eval_test" / "scores.npz")
    video_id = str(scores.video_ids[0])
    output = tmp_path / "prediction.json"
    printed = _run("experiments/predict.py", str(videos / f"{video_id}.avi"), f"--export_dir={workdir / 'export'}",
                   f"--output_json={output}")
    assert len(printed.strip().splitlines()) == 2
    logits = np.asarray(scores.scores[0], np.float64)
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    for entry in json.loads(output.read_text())["top"]:
        assert entry["probability"] == pytest.approx(expected[entry["index"]], abs=1e-5)
