"""Per-backbone input normalisation and input sizes (SPEC §3, §4).

Each backbone expects the input convention of its pretrained weights:

| backbone | RGB | flow (x and y, quantised 0..255) |
|---|---|---|
| vgg16, resnet50, resnet50_tsm | Keras "caffe": RGB -> BGR, minus [103.939, 116.779, 123.68] | minus 128 |
| bn_inception | TSN: RGB -> BGR, minus [104, 117, 128] | minus 128 |
| inception_resnet_v2 | Keras "tf": x / 127.5 - 1 | x / 127.5 - 1 |
| tiny | x / 127.5 - 1 | x / 127.5 - 1 |
"""

import numpy as np
import tensorflow as tf

_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TSN_BGR_MEAN = (104.0, 117.0, 128.0)
_BGR_MEAN = {
    "vgg16": _CAFFE_BGR_MEAN,
    "resnet50": _CAFFE_BGR_MEAN,
    "resnet50_tsm": _CAFFE_BGR_MEAN,
    "bn_inception": _TSN_BGR_MEAN,
}
_SCALED_TO_UNIT = ("inception_resnet_v2", "tiny")  # x / 127.5 - 1

_INPUT_SIZE = {
    "tiny": 64,
    "vgg16": 224,
    "bn_inception": 224,
    "resnet50": 224,
    "resnet50_tsm": 224,
    "inception_resnet_v2": 299,
}
MODALITIES = ("rgb", "flow", "flow_mc")


def default_input_size(backbone):
    """The square input side S the backbone is trained at (tiny: 64)."""
    if backbone not in _INPUT_SIZE:
        raise ValueError(f"backbone must be one of {tuple(_INPUT_SIZE)}, got {backbone!r}")
    return _INPUT_SIZE[backbone]


def input_affine(backbone, modality, channels):
    """The normalisation as one affine map of each pixel's channels.

    ``normalize(x) = x @ kernel + bias`` over the last axis: the kernel holds
    the channel order (RGB -> BGR within each frame of a snippet) and the
    scale, the bias the mean.

    Args:
      backbone: a backbone name (see :func:`default_input_size`).
      modality: ``"rgb"``, ``"flow"`` or ``"flow_mc"``.
      channels: C; a multiple of 3 for RGB.

    Returns:
      ``(kernel [C, C], bias [C])`` float32 NumPy arrays.
    """
    if backbone not in _INPUT_SIZE:
        raise ValueError(f"backbone must be one of {tuple(_INPUT_SIZE)}, got {backbone!r}")
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    if modality == "rgb" and channels % 3:
        raise ValueError(f"RGB frames need a multiple of 3 channels, got {channels}")
    if backbone in _SCALED_TO_UNIT:
        return np.eye(channels, dtype=np.float32) / 127.5, np.full(channels, -1.0, np.float32)
    if modality != "rgb":
        return np.eye(channels, dtype=np.float32), np.full(channels, -128.0, np.float32)
    to_bgr = np.eye(3, dtype=np.float32)[::-1]  # input channel c -> output channel 2 - c
    kernel = np.kron(np.eye(channels // 3, dtype=np.float32), to_bgr)  # per frame of the snippet
    bias = -np.tile(np.array(_BGR_MEAN[backbone], np.float32), channels // 3)
    return kernel, bias


def apply_affine(frames, kernel, bias):
    """``frames @ kernel + bias`` over the last axis, as one fused 1x1 convolution.

    Args:
      frames: float32 ``[..., C]``.
      kernel: ``[C, C]``; bias: ``[C]``.

    Returns:
      float32, the shape of ``frames``.
    """
    channels = frames.shape[-1]
    pixels = tf.reshape(frames, [1, -1, 1, channels])  # [1, pixels, 1, C]: fastest layout for the conv
    kernel = tf.reshape(tf.cast(kernel, tf.float32), [1, 1, channels, channels])
    mapped = tf.nn.bias_add(tf.nn.conv2d(pixels, kernel, 1, "VALID"), tf.cast(bias, tf.float32))
    return tf.ensure_shape(tf.reshape(mapped, tf.shape(frames)), frames.shape)  # [..., C]


def normalize(frames, backbone, modality):
    """Maps 0..255 frames to the backbone's input convention.

    Args:
      frames: ``[..., C]`` uint8 or float, values 0..255, C known statically.
        RGB frames may be snippets of several frames stacked on channels
        (C = 3L, frame-major); flow frames have any number of channels.
      backbone: a backbone name (see :func:`default_input_size`).
      modality: ``"rgb"``, ``"flow"`` or ``"flow_mc"``.

    Returns:
      float32 frames of the same shape.
    """
    frames = tf.cast(frames, tf.float32)
    kernel, bias = input_affine(backbone, modality, frames.shape[-1])
    return apply_affine(frames, kernel, bias)
