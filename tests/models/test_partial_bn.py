"""TSN's partial BN (issue 13.4): every BatchNormalization layer frozen except the first.

BN-Inception at 64 px, one training step at a high learning rate: the first BN
(``conv1_7x7_s2_bn``, after the first convolution in the Caffe definition)
updates its moving statistics and gamma/beta; every other BN keeps all four.
"""

import keras
import numpy as np
import pytest

from iastp_tf.models import build_stream_model

SIZE = 64
FIRST_BN = "conv1_7x7_s2_bn"


def _batch_norms(model):
    trunk = model.get_layer("bn_inception_trunk")
    return {layer.name: layer for layer in trunk.layers if isinstance(layer, keras.layers.BatchNormalization)}


def _state(layer):
    return [w.numpy().copy() for w in (layer.gamma, layer.beta, layer.moving_mean, layer.moving_variance)]


def test_only_the_first_batch_norm_learns():
    model = build_stream_model("bn_inception", num_classes=3, input_size=SIZE, num_scales=0,
                               attention="none", partial_bn=True)
    norms = _batch_norms(model)
    assert len(norms) == 69  # one per convolution
    before = {name: _state(layer) for name, layer in norms.items()}
    x = np.random.default_rng(0).normal(0, 50, (2, 2, SIZE, SIZE, 3)).astype("float32")
    model.compile(keras.optimizers.SGD(1.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.train_on_batch(x, np.array([0, 1]))
    for name, layer in norms.items():
        changed = [not np.array_equal(a, b) for a, b in zip(before[name], _state(layer))]
        assert changed == ([True] * 4 if name == FIRST_BN else [False] * 4), name
    frozen = {id(w) for name, layer in norms.items() if name != FIRST_BN for w in (layer.gamma, layer.beta)}
    assert not frozen & {id(w) for w in model.trainable_weights}


def test_without_partial_bn_every_batch_norm_learns():
    model = build_stream_model("bn_inception", num_classes=3, input_size=SIZE, num_scales=0, attention="none")
    norms = _batch_norms(model)
    assert all(layer.trainable for layer in norms.values())


def test_partial_bn_needs_batch_norm_layers():
    with pytest.raises(ValueError, match="partial_bn must be False for 'tiny'"):
        build_stream_model("tiny", num_classes=3, input_size=32, partial_bn=True)
