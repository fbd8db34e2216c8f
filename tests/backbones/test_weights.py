"""Cross-modality initialisation and weight transfer (SPEC §3, iastp_tf/backbones/weights.py)."""

import keras
import numpy as np
import pytest

from iastp_tf.backbones import weights as weights_lib


def test_cross_modality_kernel_is_the_rgb_mean_replicated():
    rgb = np.arange(2 * 2 * 3 * 4, dtype=np.float32).reshape(2, 2, 3, 4)
    flow = weights_lib.cross_modality_kernel(rgb, 10)
    assert flow.shape == (2, 2, 10, 4)
    # Independent: (c0 + c1 + c2) / 3 for every output filter and position.
    expected = (rgb[:, :, 0] + rgb[:, :, 1] + rgb[:, :, 2]) / 3.0
    for channel in range(10):
        np.testing.assert_allclose(flow[:, :, channel], expected, rtol=1e-6)


def test_cross_modality_kernel_rejects_a_non_conv_kernel():
    with pytest.raises(ValueError, match="rgb_kernel"):
        weights_lib.cross_modality_kernel(np.zeros((3, 4)), 10)


def _small_net(channels, width=4):
    frames = keras.Input((8, 8, channels))
    x = keras.layers.Conv2D(width, 3, name="first")(frames)
    x = keras.layers.Conv2D(5, 1, name="second")(x)
    return keras.Model(frames, x)


def test_transfer_copies_weights_and_adapts_only_the_first_conv():
    rgb, flow = _small_net(3), _small_net(10)
    weights_lib.transfer_by_name(rgb, weights_lib.weighted_layers(flow))
    rgb_kernel = rgb.get_layer("first").kernel.numpy()
    flow_kernel = flow.get_layer("first").kernel.numpy()
    np.testing.assert_allclose(flow_kernel[:, :, 7], rgb_kernel.mean(axis=2), rtol=1e-6)
    np.testing.assert_array_equal(flow.get_layer("first").bias.numpy(),
                                  rgb.get_layer("first").bias.numpy())
    for source, target in zip(rgb.get_layer("second").weights, flow.get_layer("second").weights):
        np.testing.assert_array_equal(source.numpy(), target.numpy())


def test_transfer_refuses_other_shape_differences():
    with pytest.raises(ValueError, match="'first'"):
        weights_lib.transfer_by_name(_small_net(3, width=4),
                                     weights_lib.weighted_layers(_small_net(3, width=6)))
