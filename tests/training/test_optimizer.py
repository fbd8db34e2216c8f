"""Loss terms of eq. 12 against NumPy."""

import keras
import numpy as np
import pytest

from iastp_tf.training import optimizer as optimizer_lib


def test_weight_decay_is_lambda_sum_of_squared_kernels_only():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, bias_initializer="ones", name="d1")(inputs)
    normed = keras.layers.BatchNormalization(name="bn")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(2, name="d2")(normed))
    kernels = [model.get_layer("d1").kernel.numpy(), model.get_layer("d2").kernel.numpy()]
    expected = 4e-5 * sum(np.sum(k.astype(np.float64) ** 2) for k in kernels)
    assert float(optimizer_lib.weight_decay_loss(model)) == pytest.approx(expected, rel=1e-5)
    assert {v.path for v in optimizer_lib.decayed_variables(model)} == {"d1/kernel", "d2/kernel"}


def test_softmax_cross_entropy_matches_numpy():
    logits = np.array([[2.0, 0.5, -1.0], [0.0, 0.0, 3.0]], np.float32)
    labels = np.array([0, 1])
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -log_probs[np.arange(2), labels]
    np.testing.assert_allclose(optimizer_lib.classification_loss(labels, logits).numpy(), expected, rtol=1e-6)


def test_sigmoid_cross_entropy_for_multi_label_matches_numpy():
    logits = np.array([[2.0, -0.5, 0.1]], np.float32)
    multi_hot = np.array([[1.0, 0.0, 1.0]], np.float32)
    probs = 1 / (1 + np.exp(-logits))
    expected = -np.mean(multi_hot * np.log(probs) + (1 - multi_hot) * np.log(1 - probs), axis=1)
    got = optimizer_lib.classification_loss(multi_hot, logits, multi_label=True).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_optimizer_is_sgd_with_momentum_and_loss_scaling_for_float16():
    sgd = optimizer_lib.make_optimizer(0.1)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.momentum == 0.9
    scaled = optimizer_lib.make_optimizer(0.1, mixed_precision="mixed_float16")
    assert isinstance(scaled, keras.optimizers.LossScaleOptimizer)



@pytest.mark.parametrize("gradient, clip, expected", [
    ([30.0, 40.0, 0.0], 5.0, [3.0, 4.0, 0.0]),  # norm 50 > 5: scaled to norm 5
    ([0.3, 0.4, 0.0], 5.0, [0.3, 0.4, 0.0]),  # norm 0.5 <= 5: unchanged
])
def test_clipping_outside_a_strategy_is_clip_by_global_norm(gradient, clip, expected):
    (clipped,) = optimizer_lib.clip_by_global_norm_over_replicas([np.asarray(gradient, np.float32)], clip)
    np.testing.assert_allclose(clipped.numpy(), expected, rtol=1e-6)


def test_clipping_bounds_the_update_of_the_gradient_summed_over_replicas():
    """Two replicas each hold half of a norm-50 gradient: the applied update has norm lr * 10, not 2 * lr * 10."""
    import tensorflow as tf

    from iastp_tf.training.strategy import make_strategy

    strategy = make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        variable = keras.Variable(np.zeros(2, np.float32))
        optimizer = optimizer_lib.make_optimizer(0.5, momentum=0.0)
        optimizer.build([variable])

    @tf.function
    def step():
        def replica_step():
            (gradient,) = optimizer_lib.clip_by_global_norm_over_replicas([tf.constant([15.0, 20.0])], 10.0)
            optimizer.apply_gradients([(gradient, variable)])  # the optimizer sums the replicas' parts

        strategy.run(replica_step)

    step()
    np.testing.assert_allclose(variable.numpy(), -0.5 * np.array([6.0, 8.0]), rtol=1e-5)  # [30, 40] -> norm 10
