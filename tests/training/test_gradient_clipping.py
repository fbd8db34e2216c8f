"""The training step bounds the applied update by ``gradient_clip_norm`` (TSN's clipping, issue 13)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.training import loop, optimizer as optimizer_lib


def _step_update_norm(clip_norm):
    """Global norm of the change of all trainable weights after one SGD step (lr 1, no momentum)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dense(8, activation="relu")(inputs)))
    optimizer = optimizer_lib.make_optimizer(1.0, momentum=0.0)
    strategy = tf.distribute.get_strategy()
    step = loop.make_train_step(model, optimizer, strategy, multi_label=False, weight_decay=0.0,
                                jit_compile=False, gradient_clip_norm=clip_norm)
    frames = np.random.default_rng(0).normal(0, 30, (16, 4)).astype(np.float32)  # large inputs, large gradients
    labels = np.arange(16) % 3
    before = [v.numpy().copy() for v in model.trainable_variables]
    step(iter(tf.data.Dataset.from_tensors((frames, labels))))
    return np.sqrt(sum(np.sum((v.numpy() - b) ** 2) for v, b in zip(model.trainable_variables, before)))


def test_clipping_bounds_the_step_and_leaves_small_steps_alone():
    unclipped = _step_update_norm(None)
    assert unclipped > 1.0
    assert _step_update_norm(0.5) == pytest.approx(0.5, rel=1e-4)
    assert _step_update_norm(10 * unclipped) == pytest.approx(unclipped, rel=1e-5)
