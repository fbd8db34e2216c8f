"""Which frames a clip is made of (SPEC §4 "Sampling strategies", §8 names).

Two strategies, both on 0-based frame indices and written with TensorFlow ops
so they run eagerly and inside ``tf.data`` graphs, with Python ints or scalar
tensors as arguments:

* :func:`segment_offsets` (TSN, Wang et al. 2016): the video is cut into K
  equal segments and one snippet of L consecutive frames starts in each
  (L = 1 for RGB, 5 for flow). Training draws the start at random inside its
  segment; testing takes the middle of each segment.
* :func:`dense_indices` (TSM, Lin et al. 2019): ``clip_len`` frames ``stride``
  apart from one window of ``clip_len * stride`` frames; indices past the last
  frame wrap around (mod T).

Randomness: with ``seed=None`` the stateful ``tf.random`` ops are used; with a
seed (a Python int or a ``[2]`` integer tensor) the stateless ops are, so the
same seed gives the same indices (the input pipeline hands every video its own
seed).
"""

import tensorflow as tf


def _stateless_seed(seed):
    """A ``[2]`` int64 seed for the ``tf.random.stateless_*`` ops."""
    if isinstance(seed, int):
        return tf.constant([seed, 0], tf.int64)
    return tf.cast(tf.reshape(seed, [2]), tf.int64)


def uniform_ints(shape, maxval, seed=None):
    """Uniform int32 values in ``[0, maxval)`` (``maxval`` >= 1).

    Stateful with ``seed=None``; stateless for an int or ``[2]`` tensor seed.
    """
    if seed is None:
        return tf.random.uniform(shape, 0, maxval, dtype=tf.int32)
    return tf.random.stateless_uniform(shape, _stateless_seed(seed), 0, maxval, dtype=tf.int32)


def _check_positive(name, value):
    if isinstance(value, int) and value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def segment_offsets(num_frames, num_segments, new_length=1, training=False, seed=None):
    """TSN segment sampling: where each of the K snippets starts.

    With T = ``num_frames``, K = ``num_segments``, L = ``new_length`` and
    ``span = T - L + 1`` valid snippet starts:

    * training: ``avg = span // K``; if ``avg > 0``,
      ``offset_k = k * avg + randint(avg)`` (one random start inside each
      segment); elif ``T > K``, K sorted random starts in ``[0, span)``; else
      all zeros.
    * testing: ``tick = span / K``, ``offset_k = int(tick / 2 + tick * k)``
      (the middle of each segment), in float64 as TSN computes it.

    When the video is shorter than one snippet (``T < L``) TSN's formulas give
    negative or undefined starts; here ``span`` is clamped to 1 so every start
    is 0, and :func:`iastp_tf.data.snippets.snippet_indices` repeats the last
    frame to fill the snippet (as TSN's loader does).

    Args:
      num_frames: T, frames (or flow fields) in the video; int or scalar tensor.
      num_segments: K >= 1.
      new_length: L >= 1, frames per snippet.
      training: random starts (True) or segment middles (False).
      seed: None (stateful random ops), or an int / ``[2]`` tensor (stateless).

    Returns:
      int32 ``[K]`` snippet starts, each in ``[0, max(T - L, 0)]``.
    """
    _check_positive("num_segments", num_segments)
    _check_positive("new_length", new_length)
    num_frames = tf.cast(num_frames, tf.int32)
    num_segments = tf.cast(num_segments, tf.int32)
    span = tf.maximum(num_frames - tf.cast(new_length, tf.int32) + 1, 1)
    segment_index = tf.range(num_segments)
    if training:
        average = span // num_segments
        inside_segments = segment_index * average + uniform_ints(
            [num_segments], tf.maximum(average, 1), seed
        )
        sorted_random = tf.sort(uniform_ints([num_segments], span, seed))
        return tf.where(
            average > 0,
            inside_segments,
            tf.where(num_frames > num_segments, sorted_random, tf.zeros_like(segment_index)),
        )
    tick = tf.cast(span, tf.float64) / tf.cast(num_segments, tf.float64)
    middles = tick / 2.0 + tick * tf.cast(segment_index, tf.float64)
    return tf.cast(tf.floor(middles), tf.int32)


def dense_indices(num_frames, clip_len=8, stride=8, num_clips=1, training=False, seed=None):
    """TSM dense sampling: ``clip_len`` frames ``stride`` apart per clip.

    Each clip covers a window of ``clip_len * stride`` frames (64 by default).
    With ``last_start = max(0, T - clip_len * stride)``:

    * training: each clip starts at ``randint(last_start + 1)``;
    * testing: clip starts are ``linspace(0, last_start, num_clips)`` rounded
      down (computed in integers: ``last_start * c // (num_clips - 1)``).

    Indices past the last frame wrap around: ``(start + stride * i) mod T``.

    Args:
      num_frames: T >= 1; int or scalar tensor.
      clip_len: frames per clip.
      stride: frames between two sampled frames.
      num_clips: clips to return (10 at test in TSM).
      training: random (True) or evenly spaced (False) clip starts.
      seed: None (stateful random ops), or an int / ``[2]`` tensor (stateless).

    Returns:
      int32 ``[num_clips, clip_len]`` frame indices in ``[0, T)``.
    """
    _check_positive("clip_len", clip_len)
    _check_positive("stride", stride)
    _check_positive("num_clips", num_clips)
    num_frames = tf.cast(num_frames, tf.int32)
    clip_len = tf.cast(clip_len, tf.int32)
    stride = tf.cast(stride, tf.int32)
    num_clips = tf.cast(num_clips, tf.int32)
    last_start = tf.maximum(num_frames - clip_len * stride, 0)
    if training:
        starts = uniform_ints([num_clips], last_start + 1, seed)
    else:
        starts = last_start * tf.range(num_clips) // tf.maximum(num_clips - 1, 1)
    indices = starts[:, tf.newaxis] + stride * tf.range(clip_len)[tf.newaxis, :]
    return tf.math.floormod(indices, num_frames)  # [num_clips, clip_len]
