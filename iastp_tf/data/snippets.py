"""Snippets: L consecutive frames or flow fields stacked on channels (SPEC §3, §4).

An RGB snippet of L frames has 3L channels (frame-major; L = 1 in the paper).
A flow snippet of L = 5 fields has 10 channels ordered x0, y0, x1, y1, ...,
x4, y4, the TSN input of the temporal stream.
"""

import tensorflow as tf


def snippet_indices(starts, new_length, num_frames):
    """Frame indices of the snippets starting at ``starts``.

    A snippet that would run past the last frame repeats the last frame
    (TSN's loader stops advancing there), which also covers videos shorter
    than one snippet.

    Args:
      starts: int32 ``[...]`` first frame of each snippet.
      new_length: L, frames per snippet.
      num_frames: T, frames (or flow fields) available.

    Returns:
      int32 ``[..., L]`` indices in ``[0, T)``.
    """
    steps = tf.range(new_length, dtype=tf.int32)
    indices = tf.cast(starts, tf.int32)[..., tf.newaxis] + steps  # [..., L]
    return tf.minimum(indices, tf.cast(num_frames, tf.int32) - 1)


def stack_frames(frames):
    """Stacks each snippet's frames on the channel axis, frame-major.

    Args:
      frames: ``[N, L, H, W, C]``.

    Returns:
      ``[N, H, W, L*C]`` with channels (frame 0: c0..c_{C-1}, frame 1: ...).
    """
    shape = tf.shape(frames)
    if frames.shape[1] != 1:
        frames = tf.transpose(frames, [0, 2, 3, 1, 4])  # [N, H, W, L, C]
    return tf.reshape(frames, tf.concat([shape[:1], shape[2:4], [-1]], 0))  # [N, H, W, L*C]


def interleave_flow(flow_x, flow_y):
    """Interleaves the x and y fields of each snippet on channels: x0, y0, x1, y1, ...

    The fields are first stacked plane by plane (contiguous copies) and then
    moved to the channel axis in one transpose; concatenating one-channel
    images on the last axis directly is several times slower in TensorFlow.

    Args:
      flow_x: ``[N, L, H, W]`` horizontal components.
      flow_y: ``[N, L, H, W]`` vertical components.

    Returns:
      ``[N, H, W, 2L]``.
    """
    shape = tf.shape(flow_x)
    planes = tf.stack([flow_x, flow_y], axis=2)  # [N, L, 2, H, W]
    planes = tf.reshape(planes, tf.concat([shape[:1], [-1], shape[2:]], 0))  # [N, 2L, H, W]
    return tf.transpose(planes, [0, 2, 3, 1])  # [N, H, W, 2L]
