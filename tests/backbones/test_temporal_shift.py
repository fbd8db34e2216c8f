"""TSM temporal shift (iastp_tf/backbones/temporal_shift.py) on hand-made tensors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.backbones.temporal_shift import TemporalShift


def _expected_shift(x, num_segments, fold):
    """Loop-by-loop reference: ``[B*T, H, W, C]``, one frame back / forward."""
    out = x.copy()
    batch = x.shape[0] // num_segments
    for b in range(batch):
        for t in range(num_segments):
            row = b * num_segments + t
            nxt = x[row + 1, ..., :fold] if t + 1 < num_segments else 0.0
            prv = x[row - 1, ..., fold : 2 * fold] if t > 0 else 0.0
            out[row, ..., :fold] = nxt
            out[row, ..., fold : 2 * fold] = prv
    return out


def test_shift_moves_one_eighth_each_way_within_each_video():
    num_segments, channels = 4, 16  # fold = 2
    # Value = 100 * frame + channel, two videos (the second offset by 1000).
    x = np.zeros((2 * num_segments, 1, 2, channels), np.float32)
    for row in range(2 * num_segments):
        x[row] = 1000 * (row // num_segments) + 100 * (row % num_segments) + np.arange(channels)
    shifted = np.asarray(TemporalShift(num_segments=num_segments)(x))
    np.testing.assert_array_equal(shifted, _expected_shift(x, num_segments, fold=2))
    # Spelled out for video 0, frame 1: channels 0-1 come from frame 2,
    # channels 2-3 from frame 0, the rest stay.
    np.testing.assert_array_equal(shifted[1, 0, 0, :4], [200, 201, 2, 3])
    np.testing.assert_array_equal(shifted[1, 0, 0, 4:], 100 + np.arange(4, channels))
    # No neighbour across videos: video 1's first frame has zeros in channels 2-3.
    np.testing.assert_array_equal(shifted[4, 0, 0, 2:4], [0, 0])


def test_one_frame_zeroes_the_shifted_channels_and_keeps_the_rest():
    x = np.random.default_rng(0).normal(size=(3, 2, 2, 24)).astype(np.float32)
    shifted = np.asarray(TemporalShift(num_segments=1)(x))
    np.testing.assert_array_equal(shifted[..., :6], 0.0)
    np.testing.assert_array_equal(shifted[..., 6:], x[..., 6:])


def test_config_round_trip_and_bad_arguments():
    layer = TemporalShift(num_segments=5, fold_div=4, name="shift")
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert (clone.num_segments, clone.fold_div, clone.name) == (5, 4, "shift")
    with pytest.raises(ValueError, match="num_segments"):
        TemporalShift(num_segments=0)
    with pytest.raises(ValueError, match="fold_div"):
        TemporalShift(fold_div=1)



def test_unknown_spatial_size_and_mixed_precision():
    frames = keras.Input((None, None, 16))
    model = keras.Model(frames, TemporalShift(num_segments=2)(frames))
    x = np.random.default_rng(1).normal(size=(4, 3, 5, 16)).astype(np.float32)
    np.testing.assert_array_equal(model(x), _expected_shift(x, 2, fold=2))
    keras.config.set_dtype_policy("mixed_float16")
    try:
        assert TemporalShift(num_segments=2)(x).dtype == "float16"
    finally:
        keras.config.set_dtype_policy("float32")


def test_xla_matches_eager():
    layer = TemporalShift(num_segments=3)
    x = np.random.default_rng(2).normal(size=(6, 2, 2, 16)).astype(np.float32)
    compiled = tf.function(layer, jit_compile=True)
    np.testing.assert_array_equal(compiled(x), _expected_shift(x, 3, fold=2))
