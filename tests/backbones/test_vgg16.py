"""VGG16 backbone (SPEC §3): linear convs + separate ReLUs reproduce keras.applications exactly."""

import keras
import numpy as np
import pytest

from iastp_tf.backbones import build_backbone
from iastp_tf.backbones import weights as weights_lib


@pytest.fixture(scope="module")
def pair():
    keras.utils.set_random_seed(3)
    app = keras.applications.VGG16(include_top=True, weights=None)
    net = build_backbone("vgg16")
    weights_lib.transfer_by_name(app, weights_lib.weighted_layers(net.trunk, net.head))
    return app, net


@pytest.mark.slow
def test_taps_at_224(pair):
    _, net = pair
    assert [tuple(t.shape) for t in net.trunk.outputs] == [
        (None, 56, 56, 256), (None, 28, 28, 512), (None, 14, 14, 512)]
    assert tuple(net.head.output.shape) == (None, 4096)


@pytest.mark.slow
def test_trunk_then_head_equals_keras_applications(pair):
    app, net = pair
    frames = np.random.default_rng(0).normal(0, 50, size=(1, 224, 224, 3)).astype(np.float32)
    taps = net.trunk(frames)
    probe = keras.Model(app.input, [app.get_layer(n).output for n in
                                    ("block3_conv3", "block4_conv3", "block5_conv3", "fc2")])
    *conv_outputs, fc7 = probe(frames)
    np.testing.assert_allclose(net.head(taps[-1]), fc7, rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(taps, conv_outputs):
        assert float(np.min(ours)) < 0  # pre-activation
        np.testing.assert_allclose(np.maximum(ours, 0.0), theirs, rtol=1e-5, atol=1e-4)


def test_pretrained_weights_need_224():
    with pytest.raises(ValueError, match="input_size"):
        build_backbone("vgg16", input_size=192, weights="unused.weights.h5")
