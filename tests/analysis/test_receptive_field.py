"""Receptive-field arithmetic against hand-computed values and measured gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.analysis.receptive_field import ReceptiveField, receptive_field
from iastp_tf.backbones import build_backbone


def _small_stack(pool=keras.layers.MaxPooling2D):
    """32×32 input → conv5 valid → pad 1 → pool 2 → conv3 dil 2 → conv3 s2 → conv 1×7."""
    frames = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(2, 5, padding="valid")(frames)
    x = keras.layers.ZeroPadding2D(1)(x)
    x = pool(2)(x)
    x = keras.layers.Conv2D(2, 3, dilation_rate=2, padding="same")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(2, 3, strides=2, padding="same")(x)
    out = keras.layers.Conv2D(2, (1, 7), padding="same")(x)
    return keras.Model(frames, [x, out])


def test_small_stack_matches_hand_computation():
    # By hand (size, jump, start) per step: input (1, 1, 0); conv5 valid (5, 1, 2);
    # pad 1 (5, 1, 1); pool 2 (6, 2, 1.5); conv3 dilation 2 "same" on 15, pad
    # before 2 (14, 2, 1.5); conv3 stride 2 "same" on 15 → 8, pad before 1
    # (18, 4, 1.5); conv 1×7 "same": rows unchanged, cols pad before 3 (42, 4, 1.5).
    model = _small_stack()
    assert receptive_field(model, 0) == ReceptiveField(size=(18, 18), jump=(4, 4), start=(1.5, 1.5))
    assert receptive_field(model) == ReceptiveField(size=(18, 42), jump=(4, 4), start=(1.5, 1.5))


def test_vgg16_conv5_3():
    vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(224, 224, 3))
    field = receptive_field(vgg, vgg.get_layer("block5_conv3").output)
    # 3×3 convs add 2·jump each, 2×2 pools add jump and double it:
    # 1+2+2, +1, +4+4, +2, +8·3, +4, +16·3, +8, +32·3 = 196; start 0.5+1+2+4 = 7.5.
    assert field == ReceptiveField(size=(196, 196), jump=(16, 16), start=(7.5, 7.5))
    # The 14 positions are centred on the 224-pixel frame.
    assert field.center(13, 13)[0] == pytest.approx(223 - 7.5)


def test_tiny_backbone_taps():
    trunk = build_backbone("tiny", input_size=64).trunk
    # Stride-2 "same" 3×3 convs on even sizes pad 0 before, so start grows by jump_in.
    assert receptive_field(trunk, 0) == ReceptiveField(size=(7, 7), jump=(4, 4), start=(3.0, 3.0))
    assert receptive_field(trunk) == ReceptiveField(size=(31, 31), jump=(16, 16), start=(15.0, 15.0))


def test_union_over_branches_and_nested_model():
    inner_in = keras.Input((16, 16, 1))
    inner = keras.Model(inner_in, keras.layers.Conv2D(1, 3, padding="valid")(inner_in))
    frames = keras.Input((16, 16, 1))
    a = keras.layers.Conv2D(1, 1)(frames)
    b = keras.layers.Conv2D(1, 5, padding="same")(frames)
    joined = keras.layers.Add()([a, b])
    model = keras.Model(frames, inner(joined))
    # Branch union: max(1, 5) = 5 centred at 0; then a valid 3×3 adds 2 and moves start by 1.
    assert receptive_field(model) == ReceptiveField(size=(7, 7), jump=(1, 1), start=(1.0, 1.0))


def test_box_equals_measured_gradient_support():
    model = _small_stack(pool=keras.layers.AveragePooling2D)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([np.ones_like(w) for w in layer.get_weights()])
    field = receptive_field(model)
    frames = tf.ones((1, 32, 32, 1))
    row, col = 3, 3
    with tf.GradientTape() as tape:
        tape.watch(frames)
        picked = model(frames)[1][0, row, col, 0]
    support = np.argwhere(tape.gradient(picked, frames).numpy()[0, :, :, 0] != 0)
    # Columns reach past the image (size 42), so compare with the clipped box.
    top, left, bottom, right = field.box(row, col, image_size=(32, 32))
    assert (support.min(0) - 0.5).tolist() == [top, left]
    assert (support.max(0) + 0.5).tolist() == [bottom, right]


def test_box_clipped_to_image():
    field = ReceptiveField(size=(33, 33), jump=(16, 16), start=(15.0, 15.0))
    # Position (0, 3) is centred at (15, 63); half the size is 16.5.
    assert field.box(0, 3) == (-1.5, 46.5, 31.5, 79.5)
    assert field.box(0, 3, image_size=(64, 70)) == (-0.5, 46.5, 31.5, 69.5)


@pytest.mark.parametrize(
    "make_model, message",
    [
        (lambda x: keras.layers.GlobalAveragePooling2D(keepdims=True)(x), "changes the spatial size"),
        (lambda x: keras.layers.UpSampling2D()(x), "changes the spatial size"),
    ],
)
def test_unsupported_layers_raise(make_model, message):
    frames = keras.Input((8, 8, 1))
    model = keras.Model(frames, make_model(keras.layers.Conv2D(1, 3)(frames)))
    with pytest.raises(ValueError, match=message):
        receptive_field(model)


def test_bad_output_index_raises():
    model = _small_stack()
    with pytest.raises(ValueError, match="output"):
        receptive_field(model, 5)
