"""write_synthetic_dataset: a dataset directory other tests can read."""

import glob
import json
import math
import os

import numpy as np
import tensorflow as tf

from iastp_tf.data import features
from iastp_tf.data.prepare import records, synthetic


def _parse(serialized):
    context, sequences = tf.io.parse_single_sequence_example(
        serialized,
        context_features={
            features.MEDIA_ID: tf.io.FixedLenFeature([], tf.string),
            features.LABEL_INDEX: tf.io.VarLenFeature(tf.int64),
        },
        sequence_features={
            key: tf.io.FixedLenSequenceFeature([], tf.string)
            for key in (features.IMAGE_ENCODED, features.FLOW_X_ENCODED, features.FLOW_Y_ENCODED)
        },
    )
    return context, sequences


def test_directory_layout_and_json(tmp_path):
    info = synthetic.write_synthetic_dataset(
        str(tmp_path), num_classes=3, videos_per_class=2, frames=5, size=(24, 32), num_shards=2
    )
    assert sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "*.tfrecord"))) == [
        "test-00000-of-00002.tfrecord",
        "test-00001-of-00002.tfrecord",
        "train-00000-of-00002.tfrecord",
        "train-00001-of-00002.tfrecord",
    ]
    with open(tmp_path / "dataset.json") as f:
        assert json.load(f) == info
    assert info["num_classes"] == 3 and info["splits"] == {"train": 6, "test": 6}
    assert info["frame_size"] == [24, 32] and info["multi_label"] is False
    train = list(tf.data.TFRecordDataset(sorted(glob.glob(str(tmp_path / "train-*")))))
    test = list(tf.data.TFRecordDataset(sorted(glob.glob(str(tmp_path / "test-*")))))
    train_ids = {_parse(r)[0][features.MEDIA_ID].numpy() for r in train}
    test_ids = {_parse(r)[0][features.MEDIA_ID].numpy() for r in test}
    assert len(train_ids) == 6 and len(test_ids) == 6 and not train_ids & test_ids


def test_flow_matches_the_motion_of_the_square(tmp_path):
    synthetic.write_synthetic_dataset(str(tmp_path), num_classes=4, videos_per_class=1, frames=6, size=40)
    for serialized in tf.data.TFRecordDataset(str(tmp_path / "train-00000-of-00001.tfrecord")):
        context, sequences = _parse(serialized)
        label = int(tf.sparse.to_dense(context[features.LABEL_INDEX])[0])
        frames = [tf.io.decode_jpeg(j).numpy().astype(float) for j in sequences[features.IMAGE_ENCODED]]
        assert len(frames) == 6 and len(sequences[features.FLOW_X_ENCODED]) == 5
        # The square is the pixels far from the grey background; follow its centroid.
        centroids = []
        for frame in frames:
            ys, xs = np.nonzero(np.abs(frame - 60).max(axis=-1) > 40)
            centroids.append([xs.mean(), ys.mean()])
        velocity = (centroids[-1] - np.array(centroids[0])) / 5
        angle = 2 * math.pi * label / 4
        assert np.dot(velocity, [math.cos(angle), math.sin(angle)]) > 1.0
        flow_x = records.dequantize_flow(tf.io.decode_jpeg(sequences[features.FLOW_X_ENCODED][0]).numpy())
        flow_y = records.dequantize_flow(tf.io.decode_jpeg(sequences[features.FLOW_Y_ENCODED][0]).numpy())
        moving = np.hypot(flow_x, flow_y) > 0.8
        assert moving.sum() > 10
        np.testing.assert_allclose(
            [np.median(flow_x[moving]), np.median(flow_y[moving])], velocity, atol=0.6
        )


def test_same_seed_same_bytes(tmp_path):
    for name in ("a", "b"):
        synthetic.write_synthetic_dataset(str(tmp_path / name), seed=7, frames=3, size=16, splits=("train",))
    a = (tmp_path / "a" / "train-00000-of-00001.tfrecord").read_bytes()
    b = (tmp_path / "b" / "train-00000-of-00001.tfrecord").read_bytes()
    assert a == b


def test_multi_label(tmp_path):
    info = synthetic.write_synthetic_dataset(
        str(tmp_path), num_classes=3, videos_per_class=2, frames=3, size=16, multi_label=True, splits=("train",)
    )
    assert info["multi_label"] is True
    labels = [
        tf.sparse.to_dense(_parse(r)[0][features.LABEL_INDEX]).numpy().tolist()
        for r in tf.data.TFRecordDataset(str(tmp_path / "train-00000-of-00001.tfrecord"))
    ]
    assert [len(l) for l in labels] == [1, 2, 1, 2, 1, 2]
