"""BN-Inception (Ioffe & Szegedy 2015) as in Caffe/TSN, split after inception_5b (SPEC §3).

Written layer for layer after the Caffe definition that TSN trains (and its
widely used PyTorch port), with the same layer names (``conv1_7x7_s2``,
``conv1_7x7_s2_bn``, ``inception_3a_1x1``, ...) so
``iastp_tf.backbones.bn_inception_convert`` (``tools/convert_bn_inception.py``)
maps a checkpoint onto it name for name:

* every convolution has a bias and is followed by BN (epsilon 1e-5) and ReLU;
* stride-2 and 7×7 convolutions pad explicitly (Caffe pads both sides; TF's
  "same" would pad only the bottom/right for even sizes);
* max pools use Caffe's ceil mode: the bottom/right are padded so the last
  partial window counts. Every max pool here follows a ReLU, so zero padding
  is the same as Caffe's (its inputs are never negative);
* the inception blocks' 3×3 average pools (stride 1, pad 1) count the padding,
  as Caffe does (zero padding, then a plain average).

Input: BGR frames in 0-255 minus [104, 117, 128] (``iastp_tf.data.normalization``).
Taps (at 224; each block ends in a concatenation of ReLU outputs, so there is no
activation after the tapped tensor): inception_3b 28×28×320, inception_4d
14×14×608, inception_5b 7×7×1024. Head: global average pooling, features
``[N, 1024]``. The paper's 480/832/1024 channels are GoogLeNet's; see the README.
"""

import math

import keras

from iastp_tf.backbones import weights as weights_lib
from iastp_tf.backbones.base import Backbone

_DEFAULT_SIZE = 224
_MIN_SIZE = 32
_EPSILON = 1e-5
# (name, 1x1, 3x3 reduce, 3x3, double 3x3 reduce, double 3x3, pool, pool proj);
# a 1x1 of 0 marks a stride-2 reduction block (no 1x1, max pool, no pool proj).
_BLOCKS = (
    ("3a", 64, 64, 64, 64, 96, "avg", 32),
    ("3b", 64, 64, 96, 64, 96, "avg", 64),
    ("3c", 0, 128, 160, 64, 96, "max", 0),
    ("4a", 224, 64, 96, 96, 128, "avg", 128),
    ("4b", 192, 96, 128, 96, 128, "avg", 128),
    ("4c", 160, 128, 160, 128, 160, "avg", 128),
    ("4d", 96, 128, 192, 160, 192, "avg", 128),
    ("4e", 0, 128, 192, 192, 256, "max", 0),
    ("5a", 352, 192, 320, 160, 224, "avg", 128),
    ("5b", 352, 192, 320, 192, 224, "max", 128),
)
_TAPPED_BLOCKS = ("3b", "4d", "5b")


def _conv_bn_relu(x, filters, kernel_size, name, relu_name, strides=1):
    """Conv (+bias) -> BN -> ReLU, Caffe padding ``kernel_size // 2`` on both sides."""
    pad = kernel_size // 2
    if pad and (strides > 1 or kernel_size > 3):
        x = keras.layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
        padding = "valid"
    else:
        padding = "same"  # equals Caffe's symmetric padding at stride 1
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, name=name)(x)
    x = keras.layers.BatchNormalization(axis=3, epsilon=_EPSILON, momentum=0.9,
                                        name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=relu_name)(x)


def _max_pool_ceil(x, pool_size, strides, name):
    """Caffe ceil-mode max pool without padding, for non-negative ``x``."""
    size = x.shape[1]
    out = math.ceil((size - pool_size) / strides) + 1
    extra = (out - 1) * strides + pool_size - size
    if extra:
        x = keras.layers.ZeroPadding2D(((0, extra), (0, extra)), name=f"{name}_pad")(x)
    return keras.layers.MaxPooling2D(pool_size, strides=strides, name=name)(x)


def _inception(x, name, n1x1, n3x3_reduce, n3x3, ndouble_reduce, ndouble, pool, npool_proj):
    prefix = f"inception_{name}"
    stride = 1 if n1x1 else 2
    branches = []
    if n1x1:
        branches.append(_conv_bn_relu(x, n1x1, 1, f"{prefix}_1x1", f"{prefix}_relu_1x1"))
    b = _conv_bn_relu(x, n3x3_reduce, 1, f"{prefix}_3x3_reduce", f"{prefix}_relu_3x3_reduce")
    branches.append(_conv_bn_relu(b, n3x3, 3, f"{prefix}_3x3", f"{prefix}_relu_3x3", stride))
    b = _conv_bn_relu(x, ndouble_reduce, 1, f"{prefix}_double_3x3_reduce",
                      f"{prefix}_relu_double_3x3_reduce")
    b = _conv_bn_relu(b, ndouble, 3, f"{prefix}_double_3x3_1", f"{prefix}_relu_double_3x3_1")
    branches.append(_conv_bn_relu(b, ndouble, 3, f"{prefix}_double_3x3_2",
                                  f"{prefix}_relu_double_3x3_2", stride))
    if stride == 2:
        branches.append(_max_pool_ceil(x, 3, 2, f"{prefix}_pool"))
    else:
        if pool == "avg":
            b = keras.layers.ZeroPadding2D(1, name=f"{prefix}_pool_pad")(x)
            b = keras.layers.AveragePooling2D(3, strides=1, name=f"{prefix}_pool")(b)
        else:
            b = keras.layers.MaxPooling2D(3, strides=1, padding="same", name=f"{prefix}_pool")(x)
        branches.append(_conv_bn_relu(b, npool_proj, 1, f"{prefix}_pool_proj",
                                      f"{prefix}_relu_pool_proj"))
    return keras.layers.Concatenate(axis=3, name=f"{prefix}_output")(branches)


def build_features(channels=3, input_size=None) -> tuple:
    """The whole feature network and its taps.

    Returns:
      ``(network, taps)``: ``network`` maps ``[N, S, S, channels]`` frames to
      pooled features ``[N, 1024]``; ``taps`` are its inception_3b, 4d and 5b
      outputs. ``network``'s weights are what the converter writes.
    """
    size = input_size or _DEFAULT_SIZE
    if size < _MIN_SIZE:
        raise ValueError(f"input_size must be at least {_MIN_SIZE} for 'bn_inception', got {size}")
    frames = keras.Input((size, size, channels), name="frames")
    x = _conv_bn_relu(frames, 64, 7, "conv1_7x7_s2", "conv1_relu_7x7", strides=2)
    x = _max_pool_ceil(x, 3, 2, "pool1_3x3_s2")
    x = _conv_bn_relu(x, 64, 1, "conv2_3x3_reduce", "conv2_relu_3x3_reduce")
    x = _conv_bn_relu(x, 192, 3, "conv2_3x3", "conv2_relu_3x3")
    x = _max_pool_ceil(x, 3, 2, "pool2_3x3_s2")
    taps = []
    for block in _BLOCKS:
        x = _inception(x, *block)
        if block[0] in _TAPPED_BLOCKS:
            taps.append(x)
    features = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    return keras.Model(frames, features, name="bn_inception"), taps


def build(channels=3, input_size=None, weights=None) -> Backbone:
    """Builds BN-Inception for ``[N, S, S, channels]`` frames.

    Args:
      channels: input channels (3 RGB, 10 flow).
      input_size: S (at least 32); ``None`` for 224.
      weights: ``None`` or the path of a Keras weights file written by
        ``tools/convert_bn_inception.py`` (3-channel; a flow stream gets the
        cross-modality initialisation). There is no Keras download for it.
    """
    if weights == "imagenet":
        raise ValueError(
            "weights='imagenet' has no Keras download for bn_inception; convert the "
            "PyTorch checkpoint with tools/convert_bn_inception.py and pass its path"
        )
    network, taps = build_features(channels, input_size)
    trunk = keras.Model(network.input, taps, name="bn_inception_trunk")
    top = keras.Input(taps[-1].shape[1:], name="top_tap")
    head = keras.Model(top, network.get_layer("global_pool")(top), name="bn_inception_head")
    if weights is not None:
        source, _ = build_features(3, input_size)
        source.load_weights(weights)
        weights_lib.transfer_by_name(source, weights_lib.weighted_layers(network))
    return Backbone(name="bn_inception", trunk=trunk, head=head,
                    input_size=network.input.shape[1])
