"""A small CNN with three taps, for tests, demos and CPU runs (SPEC §3, ``tiny``).

Four stride-2 3×3 convolutions; the taps are the pre-activation outputs of the
last three, so at input S the levels are S/4, S/8 and S/16 with 24, 32 and 48
channels; their level names (for the stream model's ``top_level``) are
``conv2``, ``conv3``, ``conv4``. The head is ReLU + global average pooling
(features ``[N, 48]``).
"""

import keras

from iastp_tf.backbones.base import Backbone

_WIDTHS = (16, 24, 32, 48)
_DEFAULT_SIZE = 64


def build(channels=3, input_size=None, weights=None) -> Backbone:
    """Builds the tiny backbone for ``[N, S, S, channels]`` frames (S divisible by 16)."""
    size = input_size or _DEFAULT_SIZE
    if size % 16:
        raise ValueError(f"input_size must be a multiple of 16 for 'tiny', got {size}")
    frames = keras.Input((size, size, channels), name="frames")
    x = frames
    taps = []
    for i, width in enumerate(_WIDTHS):
        if i:
            x = keras.layers.ReLU(name=f"tiny_relu{i}")(x)
        x = keras.layers.Conv2D(width, 3, strides=2, padding="same", name=f"tiny_conv{i + 1}")(x)
        if i:
            taps.append(x)
    trunk = keras.Model(frames, taps, name="tiny_trunk")

    top = keras.Input(taps[-1].shape[1:], name="top_tap")
    features = keras.layers.GlobalAveragePooling2D(name="tiny_pool")(
        keras.layers.ReLU(name="tiny_relu4")(top)
    )
    head = keras.Model(top, features, name="tiny_head")
    if weights is not None:
        raise ValueError("the tiny backbone has no pretrained weights; pass weights=None")
    return Backbone(name="tiny", trunk=trunk, head=head, input_size=size,
                    level_names=tuple(f"conv{i}" for i in range(2, len(_WIDTHS) + 1)))
