"""Crops and flips, chosen once per video and applied to all its frames (SPEC §4).

Training (TSN's ``GroupMultiScaleCrop`` + ``GroupRandomHorizontalFlip``): the
crop height and width are each a scale of the frame's short side from
(1, .875, .75, .66), at most one scale step apart (TSN's ``max_distort = 1``,
a mild aspect-ratio jitter); the crop sits at one of five fixed places (the
four corners or the centre) and is resized to the network input. A horizontal
flip (:func:`flip_left_right`; in training applied at random by the model's
first layer, :class:`iastp_tf.layers.FramePreprocessing`) mirrors the frames;
for flow it also negates the horizontal component, which for quantised fields
is ``255 - v`` on the x channels.

Testing (TSN's ``GroupScale(256)`` + ``GroupCenterCrop(224)`` /
``GroupOverSample``): a square of ``224/256`` of the short side, taken at the
centre, or at the four corners and the centre plus the flips of those five
(10 crops), resized to the network input.

Crop windows are ``[y, x, height, width]`` int32 tensors in pixels, the layout
of ``tf.io.decode_and_crop_jpeg`` so only the cropped part is decoded.
"""

import numpy as np
import tensorflow as tf

from iastp_tf.data.normalization import apply_affine
from iastp_tf.data.sampling import uniform_ints

MULTI_SCALES = (1.0, 0.875, 0.75, 0.66)
TEST_CROP_RATIO = 224.0 / 256.0
_FLOW_MODALITIES = ("flow", "flow_mc")


def fixed_crop_offsets(height, width, crop_height, crop_width):
    """TSN's five fixed crop places: the four corners, then the centre.

    Returns:
      int32 ``[5, 2]`` top-left corners ``(y, x)``: upper-left, upper-right,
      lower-left, lower-right, centre.
    """
    h_step = (height - crop_height) // 4
    w_step = (width - crop_width) // 4
    ys = tf.stack([0, 0, 4 * h_step, 4 * h_step, 2 * h_step])
    xs = tf.stack([0, 4 * w_step, 0, 4 * w_step, 2 * w_step])
    return tf.stack([ys, xs], axis=1)  # [5, 2]


def multiscale_crop_window(height, width, seed=None, scales=MULTI_SCALES, max_distort=1):
    """One random multi-scale crop window for a ``height`` x ``width`` frame.

    Args:
      height, width: frame size; ints or scalar tensors.
      seed: None (stateful random ops) or an int / ``[2]`` tensor (stateless).
        The random choices depend only on the seed, so two modalities of one
        video given the same seed get the same crop (scaled to their size).
      scales: crop sides as fractions of the short side.
      max_distort: largest difference between the height and width scale
        indices.

    Returns:
      int32 ``[4]`` window ``[y, x, crop_height, crop_width]``.
    """
    height = tf.cast(height, tf.int32)
    width = tf.cast(width, tf.int32)
    short_side = tf.cast(tf.minimum(height, width), tf.float64)
    crop_sides = tf.cast(short_side * tf.constant(scales, tf.float64), tf.int32)  # int(base * s)
    scale_pairs = tf.constant(
        [(i, j) for i in range(len(scales)) for j in range(len(scales)) if abs(i - j) <= max_distort],
        tf.int32,
    )
    pair_seed, place_seed = _split_seed(seed, 2)
    pair = scale_pairs[uniform_ints([], tf.shape(scale_pairs)[0], pair_seed)]
    crop_height = crop_sides[pair[0]]
    crop_width = crop_sides[pair[1]]
    offsets = fixed_crop_offsets(height, width, crop_height, crop_width)
    corner = offsets[uniform_ints([], 5, place_seed)]
    return tf.stack([corner[0], corner[1], crop_height, crop_width])


def center_crop_window(height, width, ratio=TEST_CROP_RATIO):
    """The centred square test crop, ``int(ratio * short side)`` on a side.

    Returns:
      int32 ``[4]`` window ``[y, x, side, side]``.
    """
    return test_crop_windows(height, width, 1, ratio)[0]


def test_crop_windows(height, width, num_crops, ratio=TEST_CROP_RATIO):
    """Square test windows: the centre (``num_crops=1``) or corners + centre (5).

    Returns:
      int32 ``[num_crops, 4]`` windows ``[y, x, side, side]``.
    """
    if num_crops not in (1, 5):
        raise ValueError(f"num_crops must be 1 or 5, got {num_crops}")
    height = tf.cast(height, tf.int32)
    width = tf.cast(width, tf.int32)
    side = tf.cast(tf.cast(tf.minimum(height, width), tf.float64) * ratio, tf.int32)
    corners = fixed_crop_offsets(height, width, side, side)[5 - num_crops :]  # centre is last
    sides = tf.fill([num_crops, 2], side)
    return tf.concat([corners, sides], axis=1)  # [num_crops, 4]


def mirror_affine(channels, modality):
    """The channel part of a horizontal flip, as an affine map of each pixel.

    :func:`flip_left_right` reverses the width and channel axes together (one
    fast contiguous reversal) and then applies this map, which puts the
    channels back in order and, for flow, turns each x component v into
    ``255 - v``.

    Args:
      channels: C of the frames.
      modality: ``"rgb"``, ``"flow"`` or ``"flow_mc"``; flow channels are
        x0, y0, x1, y1, ... (see :mod:`iastp_tf.data.snippets`).

    Returns:
      ``(kernel [C, C], bias [C])`` float32 NumPy arrays: channel-reversed
      frames ``@ kernel + bias`` are the flipped frames' channels.
    """
    kernel = np.eye(channels, dtype=np.float32)[::-1].copy()  # reversed channel j -> channel C-1-j
    bias = np.zeros(channels, np.float32)
    if modality in _FLOW_MODALITIES:
        kernel[:, 0::2] *= -1.0  # x channels: 255 - v
        bias[0::2] = 255.0
    return kernel, bias


def flip_left_right(frames, modality):
    """Mirrors frames horizontally; for flow, also inverts the x components.

    Args:
      frames: float ``[..., H, W, C]``, values 0..255, C known statically.
      modality: ``"rgb"``, ``"flow"`` or ``"flow_mc"``.

    Returns:
      float32 flipped frames, same shape.
    """
    frames = tf.cast(frames, tf.float32)
    kernel, bias = mirror_affine(frames.shape[-1], modality)
    return apply_affine(tf.reverse(frames, axis=[-2, -1]), kernel, bias)


def crop_frames(frames, window):
    """Cuts ``window`` = ``[y, x, h, w]`` out of ``[N, H, W, C]`` frames."""
    return frames[:, window[0] : window[0] + window[2], window[1] : window[1] + window[3], :]


def resize_frames(frames, size):
    """Bilinear resize of ``[N, h, w, C]`` frames to ``[N, size, size, C]`` float32.

    The frames are cast to float32 first: TensorFlow's float resize kernel is
    about twice as fast as its uint8 one.
    """
    return tf.image.resize(tf.cast(frames, tf.float32), [size, size], method="bilinear")


def _split_seed(seed, count):
    """``count`` independent seeds from one (or ``count`` Nones)."""
    if seed is None:
        return [None] * count
    if isinstance(seed, int):
        seed = tf.constant([seed, 0], tf.int64)
    return tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), count))
