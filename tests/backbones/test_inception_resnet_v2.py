"""Inception-ResNet-V2 backbone (SPEC §3): structural taps, equivalence, flow init."""

import keras
import numpy as np
import pytest

from iastp_tf.backbones import build_backbone
from tests.backbones.helpers import gray_frames, saved_reference

SIZE = 75  # the smallest input keras.applications accepts; keeps the forward pass cheap


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A randomly initialised keras.applications model and its saved weights."""
    return saved_reference(keras.applications.InceptionResNetV2, SIZE, 2, tmp_path_factory.mktemp("irv2"))


@pytest.mark.slow
def test_taps_at_299():
    net = build_backbone("inception_resnet_v2")
    assert [tuple(t.shape) for t in net.trunk.outputs] == [
        (None, 71, 71, 192), (None, 35, 35, 320), (None, 17, 17, 1088), (None, 8, 8, 2080)]
    assert tuple(net.head.output.shape) == (None, 1536)
    assert net.input_size == 299 and net.max_scales == 4


def test_flow_stream_equals_keras_applications_on_gray_frames(reference):
    """Weights loaded by order, first conv averaged: flow(v) == RGB(10v/3) through every layer."""
    app, path = reference
    net = build_backbone("inception_resnet_v2", channels=10, input_size=SIZE, weights=path)
    rgb, flow = gray_frames(SIZE, 10)
    taps = net.trunk(flow)
    np.testing.assert_allclose(net.head(taps[-1]), app(rgb), rtol=1e-4, atol=1e-4)

    # The taps are the pre-activation tensors whose ReLU keras.applications applies next.
    pools = [layer for layer in app.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    probe = keras.Model(app.input, [pools[1].input, app.get_layer("block35_10_ac").output,
                                    app.get_layer("block17_20_ac").output,
                                    app.get_layer("conv_7b").input])
    expected = probe(rgb)
    for level, (ours, theirs) in enumerate(zip(taps, expected)):
        activated = ours if level == 3 else np.maximum(ours, 0.0)  # block8_10 has no ReLU
        np.testing.assert_allclose(activated, theirs, rtol=1e-4, atol=1e-4)
        assert float(np.min(ours)) < 0  # pre-activation
    kernel = net.trunk.layers[1].kernel.numpy()
    rgb_kernel = app.layers[1].kernel.numpy()
    np.testing.assert_allclose(kernel, np.repeat(rgb_kernel.mean(2, keepdims=True), 10, 2),
                               rtol=1e-6)
