"""Per-backbone input normalisation and input sizes (SPEC §3, §4).

Each backbone expects the input convention of its pretrained weights:

| backbone | RGB | flow (x and y, quantised 0..255) |
|---|---|---|
| vgg16, resnet50, resnet50_tsm | Keras "caffe": RGB -> BGR, minus [103.939, 116.779, 123.68] | minus 128 |
| bn_inception | TSN: RGB -> BGR, minus [104, 117, 128] | minus 128 |
| inception_resnet_v2 | Keras "tf": x / 127.5 - 1 | x / 127.5 - 1 |
| tiny | x / 127.5 - 1 | x / 127.5 - 1 |
"""

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


def normalize(frames, backbone, modality):
    """Maps 0..255 frames to the backbone's input convention.

    Args:
      frames: ``[..., C]`` uint8 or float, values 0..255. RGB frames may be
        snippets of several frames stacked on channels (C = 3L, frame-major);
        flow frames have any number of channels.
      backbone: a backbone name (see :func:`default_input_size`).
      modality: ``"rgb"``, ``"flow"`` or ``"flow_mc"``.

    Returns:
      float32 frames of the same shape.
    """
    if backbone not in _INPUT_SIZE:
        raise ValueError(f"backbone must be one of {tuple(_INPUT_SIZE)}, got {backbone!r}")
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    frames = tf.cast(frames, tf.float32)
    if backbone in _SCALED_TO_UNIT:
        return frames / 127.5 - 1.0
    if modality != "rgb":
        return frames - 128.0
    shape = tf.shape(frames)
    rgb = tf.reshape(frames, tf.concat([shape[:-1], [-1, 3]], 0))  # [..., L, 3]
    bgr = tf.reverse(rgb, axis=[-1]) - tf.constant(_BGR_MEAN[backbone], tf.float32)
    return tf.ensure_shape(tf.reshape(bgr, shape), frames.shape)
