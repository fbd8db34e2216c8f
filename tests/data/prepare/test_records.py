"""The hand-written SequenceExample encoder against TensorFlow's own protos."""

import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.data import features
from iastp_tf.data.prepare import records


def _record(**overrides):
    fields = dict(
        media_id="Class/v_clip_g01_c01",
        label_indices=[3, 150],
        label_names=["three", "one fifty"],
        frame_rate=29.97,
        height=6,
        width=8,
        frames=[b"jpeg0", b"jpeg1", b"\x00\xff jpeg2"],
        flow_x=[b"fx0", b"fx1"],
        flow_y=[b"fy0", b"fy1"],
    )
    fields.update(overrides)
    return records.VideoRecord(**fields)


def _tf_proto(record):
    """The same record built independently with tf.train."""
    example = tf.train.SequenceExample()
    context = example.context.feature
    context[features.MEDIA_ID].bytes_list.value.append(record.media_id.encode())
    context[features.LABEL_INDEX].int64_list.value.extend(record.label_indices)
    context[features.LABEL_STRING].bytes_list.value.extend(n.encode() for n in record.label_names)
    context[features.FRAME_RATE].float_list.value.append(record.frame_rate)
    context[features.HEIGHT].int64_list.value.append(record.height)
    context[features.WIDTH].int64_list.value.append(record.width)
    lists = example.feature_lists.feature_list
    for key, values in (
        (features.IMAGE_ENCODED, record.frames),
        (features.FLOW_X_ENCODED, record.flow_x),
        (features.FLOW_Y_ENCODED, record.flow_y),
        (features.FLOW_MC_X_ENCODED, record.flow_mc_x),
        (features.FLOW_MC_Y_ENCODED, record.flow_mc_y),
    ):
        for value in values:
            lists[key].feature.add().bytes_list.value.append(value)
    return example


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"label_indices": [], "label_names": []},
        {"flow_x": (), "flow_y": ()},
        {"flow_mc_x": [b"m0", b"m1"], "flow_mc_y": [b"n0", b"n1"], "media_id": "é/ü"},
        {"label_indices": [2**40], "label_names": ["big"], "frame_rate": 0.0},
    ],
)
def test_serialize_equals_tensorflow_deterministic_serialization(overrides):
    record = _record(**overrides)
    expected = _tf_proto(record).SerializeToString(deterministic=True)
    assert record.serialize() == expected


def test_serialized_record_parses_with_tf_io():
    record = _record()
    context, sequences = tf.io.parse_single_sequence_example(
        record.serialize(),
        context_features={
            features.MEDIA_ID: tf.io.FixedLenFeature([], tf.string),
            features.LABEL_INDEX: tf.io.VarLenFeature(tf.int64),
            features.FRAME_RATE: tf.io.FixedLenFeature([], tf.float32),
            features.HEIGHT: tf.io.FixedLenFeature([], tf.int64),
        },
        sequence_features={
            features.IMAGE_ENCODED: tf.io.FixedLenSequenceFeature([], tf.string),
            features.FLOW_Y_ENCODED: tf.io.FixedLenSequenceFeature([], tf.string),
        },
    )
    assert context[features.MEDIA_ID].numpy() == b"Class/v_clip_g01_c01"
    assert tf.sparse.to_dense(context[features.LABEL_INDEX]).numpy().tolist() == [3, 150]
    assert context[features.FRAME_RATE].numpy() == pytest.approx(29.97, rel=1e-6)
    assert context[features.HEIGHT].numpy() == 6
    assert sequences[features.IMAGE_ENCODED].numpy().tolist() == record.frames
    assert sequences[features.FLOW_Y_ENCODED].numpy().tolist() == record.flow_y


def test_flow_must_have_t_minus_one_fields():
    with pytest.raises(ValueError, match="flow"):
        _record(flow_x=[b"a"], flow_y=[b"b"])


def test_quantize_flow_follows_tsn_formula():
    values = np.array([-25.0, -20.0, -0.1, 0.0, 0.07, 10.0, 19.99, 20.0, 31.0])
    expected = [0, 0, 127, 128, 128, 191, 255, 255, 255]  # round(255 (v + 20) / 40) after clipping
    assert records.quantize_flow(values).tolist() == expected
    dequantized = records.dequantize_flow(records.quantize_flow(values))
    assert np.all(np.abs(dequantized - np.clip(values, -20, 20)) <= 20 / 255 + 1e-6)


def test_tfrecord_shard_round_trip(tmp_path):
    path = str(tmp_path / records.shard_filename("train", 1, 3))
    assert path.endswith("train-00001-of-00003.tfrecord")
    payloads = [_record(media_id=f"v{i}").serialize() for i in range(3)]
    records.write_tfrecord(path, payloads)
    assert [r.numpy() for r in tf.data.TFRecordDataset(path)] == payloads
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train-00001-of-00003.tfrecord"]
