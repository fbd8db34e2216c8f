"""experiments/predict.py on a generated video prints its true class.

The two exported streams are not trained: their weights are set by hand so
that the answer is certain when the inputs are prepared correctly, which is
what this test checks (video decoding, test sampling, TV-L1 flow on the fly,
quantisation, crop, normalisation, SavedModel serving and late fusion):

* the flow stream scores class c by the mean flow along the direction
  2πc/N in which the synthetic videos of class c move;
* the RGB stream scores class c by how close the mean colour (its grey part
  removed) is to class c's colour hue.
"""

import json
import math
import os
import re
import subprocess
import sys

import cv2
import keras
import numpy as np
import pytest
from keras import ops

from iastp_tf.data.prepare.synthetic import synthetic_video
from iastp_tf.evaluation.export import export_saved_model, preparation
from iastp_tf.evaluation.predict import predict
from iastp_tf.layers import FramePreprocessing

NUM_CLASSES = 4
SIZE = 64
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Flow 0 is quantised to 128, i.e. 128 / 127.5 - 1 after the tiny backbone's normalisation.
_ZERO_FLOW = 128 / 127.5 - 1


class DirectionScores(keras.layers.Layer):
    """Flow ``[B, K, S, S, 10]`` -> ``[B, N]``: mean (x, y) flow projected on each class direction."""

    def call(self, frames):
        mean = ops.mean(frames - _ZERO_FLOW, axis=(1, 2, 3))  # [B, 10]: x0, y0, x1, y1, ...
        flow = ops.stack([ops.mean(mean[:, 0::2], axis=1), ops.mean(mean[:, 1::2], axis=1)], axis=1)  # [B, 2]
        angles = 2 * math.pi * np.arange(NUM_CLASSES) / NUM_CLASSES
        directions = np.stack([np.cos(angles), np.sin(angles)]).astype(np.float32)  # [2, N]
        return 1000.0 * ops.matmul(flow, directions)


class HueScores(keras.layers.Layer):
    """RGB ``[B, K, S, S, 3]`` -> ``[B, N]``: mean colour minus its grey level, against each class hue."""

    def call(self, frames):
        mean = ops.mean(frames, axis=(1, 2, 3))  # [B, 3] RGB
        chroma = mean - ops.mean(mean, axis=1, keepdims=True)
        hues = 2 * math.pi * np.arange(NUM_CLASSES) / NUM_CLASSES
        phases = np.array([0.0, 2.0, 4.0]) * math.pi / 3
        prototypes = np.cos(hues[None, :] - phases[:, None]).astype(np.float32)  # [3, N]
        return 100.0 * ops.matmul(chroma, prototypes)


def _export(directory, layer, modality, channels, new_length):
    frames = keras.Input((None, SIZE, SIZE, channels), name="frames")
    model = keras.Model(frames, layer(FramePreprocessing("tiny", modality)(frames)))  # as every stream begins
    metadata = {
        "backbone": "tiny", "input_range": [0, 255], "modality": modality, "input_size": SIZE, "channels": channels,
        "new_length": new_length, "num_segments": 3, "test_crops": 1, "multi_label": False,
        "class_names": [f"class_{c:03d}" for c in range(NUM_CLASSES)],
        # Records of the videos at their own size with OpenCV's TV-L1 (as dataset.json says it).
        "preparation": preparation({
            "resize": None, "short_side": None, "frame_size": None, "jpeg_quality": 90,
            "flow": {"method": "tvl1", "bound": 20.0, "compensated": False}, "tvl1": {"scales": 5, "warps": 5},
        }),
    }
    return export_saved_model(model, str(directory), metadata)


def _write_video(path, class_index):
    frames, _ = synthetic_video(class_index, NUM_CLASSES, 16, 80, 80, np.random.default_rng(3))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (80, 80))
    for frame in frames:
        writer.write(frame)
    writer.release()


@pytest.mark.slow
@pytest.mark.parametrize("class_index", [1])  # down: a swapped or negated flow axis would say right or up
def test_predict_prints_the_true_class_first(tmp_path, class_index):
    rgb = _export(tmp_path / "rgb", HueScores(), "rgb", 3, 1)
    flow = _export(tmp_path / "flow", DirectionScores(), "flow", 10, 5)
    video = tmp_path / "video.avi"
    _write_video(video, class_index)
    output = tmp_path / "prediction.json"
    result = subprocess.run(
        [sys.executable, "experiments/predict.py", str(video), f"--export_dir={rgb}", f"--export_dir={flow}",
         "--weights=1,1.5", f"--output_json={output}"],
        cwd=_REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Off a terminal, flow progress comes as log lines, without a bar's control codes (issue 12.20).
    assert re.search(r"tvl1 flow: (\d+)/\1 frame pairs done", result.stderr) and "\x1b[" not in result.stderr
    assert "\r" not in result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"1. class_{class_index:03d} ")
    assert len(lines) == NUM_CLASSES  # top-5 of 4 classes lists all 4
    prediction = json.loads(output.read_text())
    assert prediction["top"][0]["index"] == class_index
    assert prediction["weights"] == [1.0, 1.5]
    # Each stream alone is right too, so neither hides a mistake of the other.
    for stream in (rgb, flow):
        assert predict(str(video), export_dirs=[stream], top_k=1)[0]["index"] == class_index, stream


@pytest.mark.slow
@pytest.mark.parametrize(
    "args,message",
    [
        (["experiments/export.py", "--gin_file=gin/demo/rgb.gin", "--gin_bindings=DATA_DIR = '{tmp}/no_records'",
          "--gin_bindings=NUM_CLASSES = 2", "--workdir={tmp}/run"], "has no dataset.json"),
        (["experiments/predict.py", "{video}", "--export_dir={tmp}"], "is not an export of this project"),
        (["experiments/fuse.py", "--workdir={tmp}/fusion", "--gin_bindings=fuse.score_files = ['{tmp}/a.npz']",
          "--gin_bindings=fuse.weights = [1.0]"], "a.npz"),
    ],
)
def test_expected_failures_print_one_error_line(tmp_path, args, message):
    video = tmp_path / "video.avi"
    _write_video(video, 0)
    args = [a.format(tmp=tmp_path, video=video) for a in args]
    result = subprocess.run([sys.executable, *args], cwd=_REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message.format(tmp=tmp_path) in errors[0], result.stderr[-3000:]
