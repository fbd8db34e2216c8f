"""Inception-ResNet-V2 split before conv_7b with pre-activation taps (SPEC §3, paper Tables 2-10).

Built with keras.applications. Its pre-activation block outputs are scale layers
whose auto-generated names change with every model built in one process, so the
taps are found by structure, never by name:

* Conv2d_4a_3x3 (71×71×192 at 299): the batch-norm output feeding the stem's
  second max pool (through its ReLU);
* block35_10 (35×35×320): the input of ``block35_10_ac``;
* block17_20 (17×17×1088): the input of ``block17_20_ac``;
* block8_10 (8×8×2080): the input of ``conv_7b`` (block8_10 has no activation).

The trunk returns all four, lowest first (level names ``conv2d_4a``,
``block_a``, ``block_b``, ``block_c``: the paper's Table 1 calls the last
three the last layers of Inception-ResNet-A, B and C); the stream model uses
the last ``num_scales`` (3 in the paper, 4 possible), or cuts the trunk at a
lower ``top_level`` (:meth:`Backbone.split`). Head: conv_7b + BN + ReLU and
global average pooling, features ``[N, 1536]``.
"""

import warnings

import keras

from iastp_tf.backbones import weights as weights_lib
from iastp_tf.backbones.base import Backbone

# The taps as the paper's Table 1 names them: the last layers of
# Inception-ResNet-A, B and C (and the stem's Conv2d_4a_3x3 below them).
LEVEL_NAMES = ("conv2d_4a", "block_a", "block_b", "block_c")
_DEFAULT_SIZE = 299
_MIN_SIZE = 75


def _producer(tensor):
    """The layer whose output ``tensor`` is."""
    return tensor._keras_history.operation


def _taps(network: keras.Model) -> list:
    stem_pools = [layer for layer in network.layers
                  if isinstance(layer, keras.layers.MaxPooling2D)]
    conv4a_relu = _producer(stem_pools[1].input)
    return [
        conv4a_relu.input,
        network.get_layer("block35_10_ac").input,
        network.get_layer("block17_20_ac").input,
        network.get_layer("conv_7b").input,
    ]


def build(channels=3, input_size=None, weights=None) -> Backbone:
    """Builds Inception-ResNet-V2 for ``[N, S, S, channels]`` frames.

    Args:
      channels: input channels (3 RGB, 10 flow).
      input_size: S (at least 75); ``None`` for 299.
      weights: ``None``, ``"imagenet"`` or the path of a file that
        ``keras.applications.InceptionResNetV2(include_top=False, weights=path)``
        loads.
    """
    size = input_size or _DEFAULT_SIZE
    if size < _MIN_SIZE:
        raise ValueError(
            f"input_size must be at least {_MIN_SIZE} for 'inception_resnet_v2', got {size}"
        )
    with warnings.catch_warnings():  # keras.applications warns about 10-channel (flow) inputs
        warnings.filterwarnings("ignore", message="This model usually expects")
        network = keras.applications.InceptionResNetV2(
            include_top=False, weights=None, input_shape=(size, size, channels)
        )
    trunk = keras.Model(network.input, _taps(network), name="inception_resnet_v2_trunk")

    top = keras.Input(trunk.outputs[-1].shape[1:], name="top_tap")
    x = top
    for layer_name in ("conv_7b", "conv_7b_bn", "conv_7b_ac"):
        x = network.get_layer(layer_name)(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    head = keras.Model(top, x, name="inception_resnet_v2_head")

    if weights is not None:
        source = keras.applications.InceptionResNetV2(
            include_top=False, weights=weights, input_shape=(size, size, 3)
        )
        source_layers = weights_lib.weighted_layers(source)
        target_layers = weights_lib.weighted_layers(network)
        if len(source_layers) != len(target_layers):
            raise ValueError(
                f"weights: expected {len(target_layers)} layers with weights, "
                f"the source has {len(source_layers)}"
            )
        weights_lib.transfer_weights(zip(source_layers, target_layers))
    return Backbone(name="inception_resnet_v2", trunk=trunk, head=head, input_size=size,
                    level_names=LEVEL_NAMES)
