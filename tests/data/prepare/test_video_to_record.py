"""A real video file through preparation and back through tf.io (SPEC §4)."""

import glob
import json

import cv2
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.data import features
from iastp_tf.data.prepare import records, runner, splits
from tests.data.prepare import videos

SHIFT = (2, 1)  # pixels per frame, x right and y down.


def _parse_all(output_dir, split):
    paths = sorted(glob.glob(f"{output_dir}/{split}-*.tfrecord"))
    parsed = []
    for serialized in tf.data.TFRecordDataset(paths):
        context, sequences = tf.io.parse_single_sequence_example(
            serialized,
            context_features={
                features.MEDIA_ID: tf.io.FixedLenFeature([], tf.string),
                features.LABEL_INDEX: tf.io.VarLenFeature(tf.int64),
                features.LABEL_STRING: tf.io.VarLenFeature(tf.string),
                features.FRAME_RATE: tf.io.FixedLenFeature([], tf.float32),
                features.HEIGHT: tf.io.FixedLenFeature([], tf.int64),
                features.WIDTH: tf.io.FixedLenFeature([], tf.int64),
            },
            sequence_features={
                key: tf.io.FixedLenSequenceFeature([], tf.string, allow_missing=True)
                for key in (features.IMAGE_ENCODED, features.FLOW_X_ENCODED, features.FLOW_Y_ENCODED)
            },
        )
        parsed.append((context, sequences))
    return parsed


@pytest.fixture
def ucf_like(tmp_path):
    """Two classes, one real MJPG video each, UCF101 list files."""
    root = tmp_path / "videos"
    for name, shift, seed in (("ClassA", (-1, 0), 1), ("ClassB", SHIFT, 2)):
        (root / name).mkdir(parents=True)
        videos.write_video(root / name / f"v_{name}_g01_c01.avi",
                           videos.textured_translation(7, 48, 64, shift, seed))
    (root / "classInd.txt").write_text("1 ClassA\n2 ClassB\n")
    (root / "trainlist01.txt").write_text("ClassA/v_ClassA_g01_c01.avi 1\n")
    (root / "testlist01.txt").write_text("ClassB/v_ClassB_g01_c01.avi\n")
    return root


def test_video_round_trip(ucf_like, tmp_path):
    output = tmp_path / "records"
    index = splits.read_ucf101(str(ucf_like), 1)
    summary = runner.prepare_dataset(index, str(output), videos_dir=str(ucf_like),
                                     options=runner.PrepareOptions(resize=None), progress=False)
    assert summary.split_counts == {"train": 1, "test": 1} and summary.failures == []

    [(context, sequences)] = _parse_all(output, "test")
    source = ucf_like / "ClassB" / "v_ClassB_g01_c01.avi"
    decoded_by_opencv = videos.opencv_frames(source)
    assert context[features.MEDIA_ID].numpy() == b"ClassB/v_ClassB_g01_c01"
    assert tf.sparse.to_dense(context[features.LABEL_INDEX]).numpy().tolist() == [1]
    assert tf.sparse.to_dense(context[features.LABEL_STRING]).numpy().tolist() == [b"ClassB"]
    assert context[features.FRAME_RATE].numpy() == pytest.approx(25.0)
    assert (context[features.HEIGHT].numpy(), context[features.WIDTH].numpy()) == (48, 64)

    frames = sequences[features.IMAGE_ENCODED]
    assert len(frames) == len(decoded_by_opencv) == 7
    assert int(cv2.VideoCapture(str(source)).get(cv2.CAP_PROP_FRAME_COUNT)) == 7
    assert len(sequences[features.FLOW_X_ENCODED]) == len(sequences[features.FLOW_Y_ENCODED]) == 6

    rgb = np.stack([tf.io.decode_jpeg(f).numpy() for f in frames]).astype(float)  # [T, H, W, 3] RGB
    assert np.abs(rgb - decoded_by_opencv[..., ::-1]).mean() < 3.0
    written = videos.textured_translation(7, 48, 64, SHIFT, 2)[..., ::-1]
    assert np.abs(rgb - written).mean() < 8.0

    for x_jpeg, y_jpeg in zip(sequences[features.FLOW_X_ENCODED], sequences[features.FLOW_Y_ENCODED]):
        flow_x = records.dequantize_flow(tf.io.decode_jpeg(x_jpeg).numpy()[8:-8, 8:-8, 0])
        flow_y = records.dequantize_flow(tf.io.decode_jpeg(y_jpeg).numpy()[8:-8, 8:-8, 0])
        # Quantisation step 40/255 = 0.16 px; TV-L1 on an MJPG video adds a little.
        assert np.median(flow_x) == pytest.approx(SHIFT[0], abs=0.25)
        assert np.median(flow_y) == pytest.approx(SHIFT[1], abs=0.25)

    info = json.loads((output / "dataset.json").read_text())
    assert info["class_names"] == ["ClassA", "ClassB"] and info["splits"] == {"train": 1, "test": 1}
    assert info["frame_size"] == [48, 64] and info["flow"] == {"method": "tvl1", "bound": 20.0, "compensated": False}
    assert (output / "failures.txt").read_text() == ""
    assert not (output / ".partial").exists()


def test_resize_and_short_side(ucf_like, tmp_path):
    index = splits.read_ucf101(str(ucf_like), 1)
    for name, options, size in (
        ("fixed", runner.PrepareOptions(flow="none", resize=(40, 30)), (30, 40)),
        ("short", runner.PrepareOptions(flow="none", short_side=24), (24, 32)),
    ):
        runner.prepare_dataset(index, str(tmp_path / name), videos_dir=str(ucf_like), options=options,
                               progress=False)
        [(context, sequences)] = _parse_all(tmp_path / name, "train")
        assert (context[features.HEIGHT].numpy(), context[features.WIDTH].numpy()) == size
        assert tf.io.decode_jpeg(sequences[features.IMAGE_ENCODED][0]).shape == (*size, 3)
        assert len(sequences[features.FLOW_X_ENCODED]) == 0


def test_workers_give_the_same_bytes_as_one_process(ucf_like, tmp_path):
    index = splits.read_ucf101(str(ucf_like), 1)
    options = runner.PrepareOptions(resize=None, flow_compensation=True)
    for name, workers in (("serial", 0), ("parallel", 2)):
        runner.prepare_dataset(index, str(tmp_path / name), videos_dir=str(ucf_like), options=options,
                               workers=workers, progress=False)
    for shard in ("train-00000-of-00001.tfrecord", "test-00000-of-00001.tfrecord"):
        assert (tmp_path / "serial" / shard).read_bytes() == (tmp_path / "parallel" / shard).read_bytes()
