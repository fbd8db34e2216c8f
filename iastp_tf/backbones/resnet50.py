"""ResNet-50 split after stage 5 with pre-activation taps (SPEC §3, paper Table 14).

Rebuilt layer for layer after keras.applications' ResNet50 (v1: stride in the
first 1×1 convolution of a stage, BN epsilon 1.001e-5) with the same layer
names, so its weights copy over by name and the outputs equal the original
exactly. Rebuilding lets ``resnet50_tsm`` put a temporal shift at the start of
every residual branch.

Taps (pre-activation, at 224): the residual-add outputs ending stages 3, 4, 5
(``conv3_block4_add`` 28×28×512, ``conv4_block6_add`` 14×14×1024,
``conv5_block3_add`` 7×7×2048). Head: the final ReLU (``conv5_block3_out``) and
global average pooling, features ``[N, 2048]``.
"""

import keras

from iastp_tf.backbones import weights as weights_lib
from iastp_tf.backbones.base import Backbone
from iastp_tf.backbones.temporal_shift import TemporalShift

_DEFAULT_SIZE = 224
_MIN_SIZE = 32
_EPSILON = 1.001e-5
# (stage, bottleneck width, blocks, first stride)
_STAGES = ((2, 64, 3, 1), (3, 128, 4, 2), (4, 256, 6, 2), (5, 512, 3, 2))
_TAPPED_STAGES = (3, 4, 5)


def _conv_bn(x, filters, kernel_size, name, strides=1, padding="valid"):
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                            name=f"{name}_conv")(x)
    return keras.layers.BatchNormalization(axis=3, epsilon=_EPSILON, name=f"{name}_bn")(x)


def _bottleneck(x, filters, strides, conv_shortcut, name, num_segments):
    """One bottleneck block; returns the pre-activation residual sum."""
    if conv_shortcut:
        shortcut = _conv_bn(x, 4 * filters, 1, f"{name}_0", strides=strides)
    else:
        shortcut = x
    if num_segments:
        x = TemporalShift(num_segments, name=f"{name}_shift")(x)
    x = _conv_bn(x, filters, 1, f"{name}_1", strides=strides)
    x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = _conv_bn(x, filters, 3, f"{name}_2", padding="same")
    x = keras.layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = _conv_bn(x, 4 * filters, 1, f"{name}_3")
    return keras.layers.Add(name=f"{name}_add")([shortcut, x])


def build_resnet50(channels, input_size, weights, num_segments, name) -> Backbone:
    """Builds ResNet-50, with a temporal shift in each residual branch when ``num_segments``."""
    size = input_size or _DEFAULT_SIZE
    if size < _MIN_SIZE:
        raise ValueError(f"input_size must be at least {_MIN_SIZE} for {name!r}, got {size}")
    frames = keras.Input((size, size, channels), name="frames")
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(frames)
    x = _conv_bn(x, 64, 7, "conv1", strides=2)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    taps = []
    for stage, filters, blocks, strides in _STAGES:
        for block in range(1, blocks + 1):
            block_name = f"conv{stage}_block{block}"
            if block > 1:
                x = keras.layers.Activation("relu", name=f"conv{stage}_block{block - 1}_out")(x)
            x = _bottleneck(x, filters, strides if block == 1 else 1, block == 1,
                            block_name, num_segments)
        if stage in _TAPPED_STAGES:
            taps.append(x)
        if stage < _STAGES[-1][0]:
            x = keras.layers.Activation("relu", name=f"conv{stage}_block{blocks}_out")(x)
    trunk = keras.Model(frames, taps, name=f"{name}_trunk")

    top = keras.Input(taps[-1].shape[1:], name="top_tap")
    x = keras.layers.Activation("relu", name="conv5_block3_out")(top)
    features = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    head = keras.Model(top, features, name=f"{name}_head")

    if weights is not None:
        source = keras.applications.ResNet50(
            include_top=False, weights=weights, input_shape=(size, size, 3)
        )
        weights_lib.transfer_by_name(source, weights_lib.weighted_layers(trunk, head))
    return Backbone(name=name, trunk=trunk, head=head, input_size=size)


def build(channels=3, input_size=None, weights=None) -> Backbone:
    """Builds ResNet-50 for ``[N, S, S, channels]`` frames.

    Args:
      channels: input channels (3 RGB, 10 flow).
      input_size: S (at least 32); ``None`` for 224.
      weights: ``None``, ``"imagenet"`` or the path of a file that
        ``keras.applications.ResNet50(include_top=False, weights=path)`` loads.
    """
    return build_resnet50(channels, input_size, weights, num_segments=None, name="resnet50")
