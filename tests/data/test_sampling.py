"""segment_offsets and dense_indices against the TSN / TSM formulas written in NumPy."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.data.sampling import dense_indices, segment_offsets

# (T, K, L) grid: long and short videos, T < K, T < L, K = 1, K = 25.
CASES = [
    (t, k, l)
    for t, k, l in itertools.product((1, 2, 3, 4, 5, 7, 10, 24, 25, 26, 100, 301), (1, 3, 8, 25), (1, 5))
]


def tsn_test_offsets(num_frames, num_segments, new_length):
    """TSN's _get_test_indices (0-based), with the valid-start count clamped to >= 1."""
    span = max(num_frames - new_length + 1, 1)
    tick = span / float(num_segments)
    return np.array([int(tick / 2.0 + tick * k) for k in range(num_segments)])


def test_test_offsets_equal_tsn_formula():
    for num_frames, num_segments, new_length in CASES:
        offsets = segment_offsets(num_frames, num_segments, new_length, training=False)
        assert offsets.dtype == tf.int32
        np.testing.assert_array_equal(
            offsets.numpy(),
            tsn_test_offsets(num_frames, num_segments, new_length),
            err_msg=f"T={num_frames} K={num_segments} L={new_length}",
        )


def test_train_offsets_follow_tsn_cases():
    for (num_frames, num_segments, new_length), seed in itertools.product(CASES, range(3)):
        span = max(num_frames - new_length + 1, 1)
        average = span // num_segments
        offsets = segment_offsets(num_frames, num_segments, new_length, training=True, seed=seed).numpy()
        assert offsets.shape == (num_segments,)
        if average > 0:
            segment_starts = np.arange(num_segments) * average
            assert np.all(offsets >= segment_starts) and np.all(offsets < segment_starts + average)
        elif num_frames > num_segments:
            assert np.all(np.diff(offsets) >= 0) and offsets.min() >= 0 and offsets.max() < span
        else:
            np.testing.assert_array_equal(offsets, np.zeros(num_segments))
        # Every snippet fits in the video whenever the video holds one.
        assert offsets.max() <= max(num_frames - new_length, 0)


def test_train_offsets_cover_each_segment():
    """Over many seeds, each start inside a segment is drawn (randint(avg), not a constant)."""
    draws = np.stack([segment_offsets(30, 3, training=True, seed=s).numpy() for s in range(200)])
    for k in range(3):
        assert set(draws[:, k]) == set(range(10 * k, 10 * k + 10))


def test_same_seed_same_offsets_and_seedless_runs():
    first = segment_offsets(100, 8, training=True, seed=7).numpy()
    np.testing.assert_array_equal(first, segment_offsets(100, 8, training=True, seed=7).numpy())
    np.testing.assert_array_equal(first, segment_offsets(100, 8, training=True, seed=tf.constant([7, 0])).numpy())
    unseeded = segment_offsets(100, 8, training=True).numpy()
    assert np.all((unseeded >= np.arange(8) * 12) & (unseeded < np.arange(8) * 12 + 12))


def test_graph_with_tensor_arguments_equals_eager():
    @tf.function(input_signature=[tf.TensorSpec([], tf.int64), tf.TensorSpec([], tf.int32)])
    def offsets(num_frames, num_segments):
        return segment_offsets(num_frames, num_segments, 5, training=False)

    for num_frames, num_segments in [(3, 3), (17, 3), (250, 25)]:
        np.testing.assert_array_equal(
            offsets(num_frames, num_segments).numpy(), tsn_test_offsets(num_frames, num_segments, 5)
        )


def tsm_test_indices(num_frames, clip_len, stride, num_clips):
    """TSM dense test sampling as SPEC §4 writes it, in NumPy."""
    starts = np.linspace(0, max(0, num_frames - clip_len * stride), num_clips, dtype=int)
    return np.array([[(s + stride * i) % num_frames for i in range(clip_len)] for s in starts])


def test_dense_test_indices_equal_formula():
    for num_frames, num_clips in itertools.product((1, 5, 8, 63, 64, 65, 73, 100, 137, 300), (1, 2, 10)):
        indices = dense_indices(num_frames, clip_len=8, stride=8, num_clips=num_clips, training=False)
        assert indices.dtype == tf.int32
        np.testing.assert_array_equal(
            indices.numpy(), tsm_test_indices(num_frames, 8, 8, num_clips), err_msg=f"T={num_frames}"
        )


def test_dense_indices_wrap_past_the_end():
    # T = 20 < 64: the only window starts at 0, and 0, 8, 16, 24, ... wrap mod 20.
    np.testing.assert_array_equal(
        dense_indices(20, training=False).numpy(), [[0, 8, 16, 4, 12, 0, 8, 16]]
    )
    for seed in range(10):
        train = dense_indices(20, training=True, seed=seed).numpy()
        np.testing.assert_array_equal(train, [[0, 8, 16, 4, 12, 0, 8, 16]])


def test_dense_train_starts_stay_in_range():
    starts = set()
    for seed in range(300):
        clip = dense_indices(70, training=True, seed=seed).numpy()[0]
        np.testing.assert_array_equal(np.diff(clip), np.full(7, 8))  # 70 - 64 = 6: never wraps
        starts.add(int(clip[0]))
    assert starts == set(range(7))  # randint over [0, T - 64] inclusive


def test_dense_in_graph_with_tensor_frames():
    indices = tf.function(lambda t: dense_indices(t, num_clips=10))(tf.constant(137))
    np.testing.assert_array_equal(indices.numpy(), tsm_test_indices(137, 8, 8, 10))


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: segment_offsets(10, 0), "num_segments"),
        (lambda: segment_offsets(10, 3, new_length=0), "new_length"),
        (lambda: dense_indices(10, clip_len=0), "clip_len"),
        (lambda: dense_indices(10, stride=0), "stride"),
        (lambda: dense_indices(10, num_clips=0), "num_clips"),
    ],
)
def test_bad_arguments_raise(call, name):
    with pytest.raises(ValueError, match=name):
        call()
