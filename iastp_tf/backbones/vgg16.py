"""VGG16 split at conv5_3 with pre-activation taps (SPEC §3, paper §5.2 and Table 9).

keras.applications' VGG16 puts the ReLU inside each convolution, so the network
is rebuilt here with linear convolutions followed by separate ReLU layers; the
layer names are keras.applications' so its weights copy over by name and the
outputs equal the original exactly.

Taps (pre-activation, at 224): conv3_3 56×56×256, conv4_3 28×28×512,
conv5_3 14×14×512. Head: ReLU, pool5, flatten, fc6 (``fc1``), fc7 (``fc2``),
features ``[N, 4096]``. The paper's sizes (28/14/7, all 512) do not exist in
VGG16; see the README.
"""

import keras

from iastp_tf.backbones import weights as weights_lib
from iastp_tf.backbones.base import Backbone

_DEFAULT_SIZE = 224
# (block, convolutions, filters)
_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))
_TAPPED_BLOCKS = (3, 4, 5)


def build(channels=3, input_size=None, weights=None) -> Backbone:
    """Builds VGG16 for ``[N, S, S, channels]`` frames.

    Args:
      channels: input channels (3 RGB, 10 flow).
      input_size: S, a multiple of 32; ``None`` for 224. fc6 fixes S = 224
        whenever pretrained weights are loaded.
      weights: ``None``, ``"imagenet"`` or the path of a file that
        ``keras.applications.VGG16(include_top=True, weights=path)`` loads.
    """
    size = input_size or _DEFAULT_SIZE
    if size % 32:
        raise ValueError(f"input_size must be a multiple of 32 for 'vgg16', got {size}")
    if weights is not None and size != _DEFAULT_SIZE:
        raise ValueError(f"input_size must be 224 for pretrained vgg16 (fc6), got {size}")
    frames = keras.Input((size, size, channels), name="frames")
    x = frames
    taps = []
    for block, convolutions, filters in _BLOCKS:
        if block > 1:
            x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{block - 1}_pool")(x)
        for i in range(1, convolutions + 1):
            if i > 1:
                x = keras.layers.ReLU(name=f"block{block}_relu{i - 1}")(x)
            x = keras.layers.Conv2D(filters, 3, padding="same", name=f"block{block}_conv{i}")(x)
        if block in _TAPPED_BLOCKS:
            taps.append(x)
        if block < len(_BLOCKS):
            x = keras.layers.ReLU(name=f"block{block}_relu{convolutions}")(x)
    trunk = keras.Model(frames, taps, name="vgg16_trunk")

    top = keras.Input(taps[-1].shape[1:], name="top_tap")
    x = keras.layers.ReLU(name="block5_relu3")(top)
    x = keras.layers.MaxPooling2D(2, strides=2, name="block5_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc1")(x)
    features = keras.layers.Dense(4096, activation="relu", name="fc2")(x)
    head = keras.Model(top, features, name="vgg16_head")

    if weights is not None:
        source = keras.applications.VGG16(
            include_top=True, weights=weights, input_shape=(size, size, 3)
        )
        weights_lib.transfer_by_name(source, weights_lib.weighted_layers(trunk, head))
    return Backbone(name="vgg16", trunk=trunk, head=head, input_size=size)
