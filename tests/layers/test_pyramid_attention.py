"""PyramidAttention against a NumPy transcription of the paper's equations."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.layers import PyramidAttention
from iastp_tf.layers.pyramid_attention import safe_sqrt
from tests.layer_checks import check_layer
from tests.layers.numpy_reference import SIZES, np_adaptive_pool, np_pyramid_attention, np_softmax, random_levels


def make_layer(**kwargs):
    kwargs.setdefault("kernel_initializer", keras.initializers.RandomNormal(stddev=0.3, seed=1))
    kwargs.setdefault("bias_initializer", keras.initializers.RandomNormal(stddev=0.3, seed=2))
    return PyramidAttention(return_attention=True, interaction_weight=1.0, pyramid_weight=1.0, **kwargs)


# --- The layer equals the equations ---


@pytest.mark.parametrize("fusion", ["product", "sum", "max"])
@pytest.mark.parametrize("frames", [1, 3, 7])
@pytest.mark.parametrize("num_levels", [1, 2, 3])
def test_matches_numpy_reference(fusion, frames, num_levels):
    levels = random_levels(2, frames, num_levels)
    layer = make_layer(fusion=fusion)
    m, a = layer(levels)
    l_inter, l_attn = (float(x) for x in layer.losses)
    kernels = [v.numpy().astype(np.float64) for v in layer.kernels]
    biases = [v.numpy().astype(np.float64) for v in layer.biases]
    refs = [np_pyramid_attention([x[b].astype(np.float64) for x in levels], kernels, biases, fusion) for b in range(2)]
    for b, (m_ref, a_ref, _, _) in enumerate(refs):
        np.testing.assert_allclose(m[b], m_ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a[b], a_ref, rtol=1e-5, atol=1e-7)
    # The added losses are batch means times the weights (1 here).
    np.testing.assert_allclose(l_inter, np.mean([r[2] for r in refs]), rtol=1e-5)
    np.testing.assert_allclose(l_attn, np.mean([r[3] for r in refs]), rtol=1e-5)


@pytest.mark.parametrize("downsample,reduce", [("max", np.max), ("avg", np.mean)])
def test_downsampling_uses_adaptive_bins(downsample, reduce):
    # 9 -> 3 has equal bins, 5 -> 3 overlapping ones (0-2, 1-4, 3-5).
    levels = random_levels(1, 2, 3)
    layer = make_layer(downsample=downsample)
    m, a = layer(levels)
    kernels = [v.numpy().astype(np.float64) for v in layer.kernels]
    biases = [v.numpy().astype(np.float64) for v in layer.biases]
    m_ref, a_ref, _, _ = np_pyramid_attention([x[0] for x in levels], kernels, biases, "product", reduce)
    np.testing.assert_allclose(a[0], a_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(m[0], m_ref, rtol=1e-5, atol=1e-6)


def test_conv_downsampling_lands_on_top_size():
    layer = PyramidAttention(downsample="conv")
    out = layer([np.ones((1, 2, 56, 56, 3), "float32"), np.ones((1, 2, 28, 28, 4), "float32"), np.ones((1, 2, 14, 14, 5), "float32")])
    assert out.shape == (1, 14, 14, 5)
    assert [d.strides for d in layer.downsamplers[:2]] == [(4, 4), (2, 2)]


def test_weights_are_created_in_the_spec_order_and_shapes():
    layer = PyramidAttention()
    layer(random_levels(1, 2, 3))
    names = [v.path.split("/")[-1] for v in layer.weights]
    assert names == ["kernel_1", "bias_1", "kernel_2", "bias_2", "kernel_3", "bias_3"]
    assert [tuple(v.shape) for v in layer.weights] == [(4, 9), (9,), (6, 9), (9,), (8, 9), (9,)]


# --- Properties the paper states ---


def test_columns_of_a_have_unit_norm():
    m, a = make_layer()(random_levels(2, 3, 3))
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)


def test_hand_computed_single_frame_single_level():
    # One frame, a 1x2 map with one channel holding (0, ln 3); kernel ones, bias
    # zero: every column scores (0, ln 3), softmax (1/4, 3/4), L2-normalised
    # a = (1, 3)/sqrt(10), so each output is 3 ln3 / sqrt(10).
    x = np.array([0.0, math.log(3.0)], "float32").reshape(1, 1, 1, 2, 1)
    layer = PyramidAttention(
        kernel_initializer="ones", interaction_weight=1.0, pyramid_weight=1.0, return_attention=True
    )
    m, a = layer([x])
    np.testing.assert_allclose(a[0], np.full((2, 2), [[1.0], [3.0]]) / math.sqrt(10), rtol=1e-6)
    value = 3 * math.log(3.0) / math.sqrt(10)
    np.testing.assert_allclose(m[0, 0, :, 0], [value, value], rtol=1e-6)
    # Both columns are the same unit vector: off-diagonal Gram entries are 1.
    l_inter, l_attn = (float(v) for v in layer.losses)
    np.testing.assert_allclose(l_inter, -2 * value**2 + 2.0, rtol=1e-5, atol=1e-6)
    delta = 1 - math.sqrt(10) / 4  # |a - s| with a = s * 4/sqrt(10), |s| = sqrt(10)/4
    np.testing.assert_allclose(l_attn, math.sqrt(2 * (1 - delta**2)), rtol=1e-6)


def test_frame_order_does_not_matter():
    levels = random_levels(2, 5, 3)
    layer = make_layer()
    m, _ = layer(levels)
    losses = [float(v) for v in layer.losses]
    order = np.array([3, 0, 4, 1, 2])
    m_perm, _ = layer([x[:, order] for x in levels])
    np.testing.assert_allclose(m_perm, m, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([float(v) for v in layer.losses], losses, rtol=1e-5)


def test_batch_equals_one_sample_at_a_time():
    levels = random_levels(3, 4, 2)
    layer = make_layer()
    m, a = layer(levels)
    batch_losses = [float(v) for v in layer.losses]
    per_sample = []
    for b in range(3):
        mb, ab = layer([x[b : b + 1] for x in levels])
        np.testing.assert_allclose(mb[0], m[b], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ab[0], a[b], rtol=1e-5, atol=1e-7)
        per_sample.append([float(v) for v in layer.losses])
    np.testing.assert_allclose(np.mean(per_sample, axis=0), batch_losses, rtol=1e-5)


# --- Gradients ---


@pytest.mark.parametrize("frames,num_levels", [(3, 3), (1, 1), (1, 3)])
def test_gradients_finite_and_nonzero_for_every_weight(frames, num_levels):
    levels = [tf.constant(x) for x in random_levels(2, frames, num_levels)]
    layer = PyramidAttention(interaction_weight=1.0, pyramid_weight=1.0)
    layer(levels)
    with tf.GradientTape() as tape:
        out = layer(levels)
        loss = tf.reduce_sum(tf.sin(out)) + tf.add_n(layer.losses)
    grads = tape.gradient(loss, layer.trainable_weights)
    for var, grad in zip(layer.trainable_weights, grads):
        assert grad is not None, var.path
        assert np.isfinite(grad.numpy()).all(), var.path
        assert np.abs(grad.numpy()).max() > 0, var.path


def test_safe_sqrt_gradient_is_finite_at_and_below_zero():
    x = tf.constant([0.0, -1.0, 4.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = safe_sqrt(x)
    grad = tape.gradient(y, x).numpy()
    np.testing.assert_allclose(y.numpy(), [0.0, 0.0, 2.0])
    np.testing.assert_allclose(grad, [0.0, 0.0, 0.25])


# --- Keras plumbing ---


def test_shared_layer_checks(tmp_path):
    shapes = [(3, 9, 9, 4), (3, 5, 5, 6), (3, 3, 3, 8)]
    check_layer(PyramidAttention, {"fusion": "sum", "downsample": "conv"}, shapes, tmp_path, sublayers=2)


def test_attention_and_losses_stay_float32_under_mixed_precision():
    levels = random_levels(2, 3, 3)
    reference = make_layer()
    m32, a32 = reference(levels)
    keras.config.set_dtype_policy("mixed_bfloat16")
    layer = make_layer()
    layer(levels)
    layer.set_weights(reference.get_weights())
    m16, a16 = layer(levels)
    assert m16.dtype == "bfloat16" and a16.dtype == "float32"
    assert all(loss.dtype == "float32" for loss in layer.losses)
    np.testing.assert_allclose(np.asarray(m16, "float32"), m32, rtol=0.1, atol=0.1)


def test_k_unknown_until_call_time():
    inputs = [keras.Input((None, *s)) for s in SIZES]
    model = keras.Model(inputs, PyramidAttention()(inputs))
    for frames in (1, 4, 9):
        assert model.predict(random_levels(2, frames, 3), verbose=0).shape == (2, 3, 3, 8)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"fusion": "mean"}, "fusion"), ({"downsample": "nearest"}, "downsample"), ({"pyramid_weight": -1}, "pyramid_weight")],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PyramidAttention(**kwargs)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="smaller than the top"):
        PyramidAttention()([np.ones((1, 1, 2, 2, 3), "float32"), np.ones((1, 1, 3, 3, 3), "float32")])
    with pytest.raises(ValueError, match="1 to 4 levels"):
        PyramidAttention()([np.ones((1, 1, 3, 3, 3), "float32")] * 5)


@pytest.mark.parametrize("feature_gradient", [False, True])
def test_interaction_energy_reaches_features_only_through_a_by_default(feature_gradient):
    # With a zero kernel A is uniform whatever X is, so without the direct
    # path (eq. 7 optimises A for given features) the interaction loss has no
    # gradient with respect to the features at all.
    top = tf.constant(random_levels(2, 3, 1)[0])
    layer = PyramidAttention(
        kernel_initializer="zeros",
        interaction_weight=1.0,
        pyramid_weight=0.0,
        interaction_feature_gradient=feature_gradient,
    )
    with tf.GradientTape() as tape:
        tape.watch(top)
        layer([top])
        loss = layer.losses[0]
    grad = tape.gradient(loss, top).numpy()
    if feature_gradient:
        # d(-||A^T X||^2)/dX = -2 A A^T X for the uniform A.
        hw, rows = 9, 27
        a = np.full((rows, hw), 1 / np.sqrt(rows))
        x = top.numpy().reshape(2, rows, -1)
        expected = np.stack([-2 * a @ a.T @ x[b] for b in range(2)]) / 2  # batch mean
        np.testing.assert_allclose(grad.reshape(2, rows, -1), expected, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(grad, 0.0)


def test_gradients_stay_finite_when_the_pyramid_sum_is_clamped_at_zero():
    # One frame, two 1x2 levels of one channel holding (-3, 1), kernels ones:
    # each level alone prefers position 1 (softmax ~ (0.02, 0.98)), their
    # product (9, 1) prefers position 0, so every delta^2 is ~1.9 and
    # sum(1 - delta^2) = 4 - 4 * 1.9 < 0: the loss is clamped to 0.
    x = tf.constant(np.array([-3.0, 1.0], "float32").reshape(1, 1, 1, 2, 1))
    layer = PyramidAttention(kernel_initializer="ones", interaction_weight=1.0, pyramid_weight=1.0)
    layer([x, x])
    kernels = [v.numpy().astype(np.float64) for v in layer.kernels]
    biases = [v.numpy().astype(np.float64) for v in layer.biases]
    levels = [x.numpy()[0].astype(np.float64)] * 2
    _, a, _, _ = np_pyramid_attention(levels, kernels, biases, "product")
    s = np_softmax(levels[0].reshape(2, 1) @ kernels[0] + biases[0], axis=0)
    assert 2 * 2 - 2 * np.sum((a - s) ** 2) < 0  # the raw sum of eq. 14 is negative
    with tf.GradientTape() as tape:
        out = layer([x, x])
        interaction, pyramid = layer.losses
        loss = tf.reduce_sum(tf.sin(out)) + interaction + pyramid
    assert float(pyramid) == 0.0
    grads = tape.gradient(loss, layer.trainable_weights)
    for var, grad in zip(layer.trainable_weights, grads):
        assert np.isfinite(grad.numpy()).all(), var.path
        assert np.abs(grad.numpy()).max() > 0, var.path
