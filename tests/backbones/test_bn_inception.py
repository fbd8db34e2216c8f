"""BN-Inception after the Caffe/TSN definition (SPEC §3): size, Caffe padding and pooling, weights."""

import keras
import numpy as np
import pytest

from iastp_tf.backbones import bn_inception, build_backbone


def _submodel(network, layer_names):
    return keras.Model(network.input, [network.get_layer(n).output for n in layer_names])


def test_parameter_count_matches_the_published_1000_class_network():
    """11,295,240 trainable parameters for the 1000-class BN-Inception.

    Source: osmr/imgclsmob, pytorch/pytorchcv/models/bninception.py (``_test``
    asserts ``weight_count == 11295240``) and its README table ("BN-Inception |
    ... | 11,295,240 | 2,048.06M"), counting trainable parameters (BN moving
    statistics are buffers, not parameters).
    """
    network, taps = bn_inception.build_features()
    logits = keras.layers.Dense(1000)(network.output)
    model = keras.Model(network.input, logits)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 11_295_240
    assert [tuple(t.shape) for t in taps] == [
        (None, 28, 28, 320), (None, 14, 14, 608), (None, 7, 7, 1024)]
    assert tuple(network.output.shape) == (None, 1024)


def test_caffe_padding_and_pooling():
    keras.utils.set_random_seed(4)
    size = 36
    network, _ = bn_inception.build_features(input_size=size)
    probe = _submodel(network, ["conv1_7x7_s2", "conv1_relu_7x7", "pool1_3x3_s2",
                                "pool2_3x3_s2", "inception_3a_pool"])
    frames = np.random.default_rng(0).normal(size=(1, size, size, 3)).astype(np.float32)
    conv, relu, pool1, pool2, avg = (np.asarray(t) for t in probe(frames))

    # 7x7 stride-2 convolution with 3 pixels of zero padding on every side (Caffe).
    layer = network.get_layer("conv1_7x7_s2")
    kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
    padded = np.pad(frames[0], ((3, 3), (3, 3), (0, 0)))
    out = (size + 6 - 7) // 2 + 1
    assert conv.shape == (1, out, out, 64)
    for i, j in ((0, 0), (0, out - 1), (out - 1, 5), (7, 3)):
        window = padded[2 * i:2 * i + 7, 2 * j:2 * j + 7]  # [7, 7, 3]
        expected = np.tensordot(window, kernel, axes=3) + bias
        np.testing.assert_allclose(conv[0, i, j], expected, rtol=1e-4, atol=1e-4)

    # 3x3 stride-2 max pool in ceil mode: 18 -> ceil(15 / 2) + 1 = 9 (floor mode: 8);
    # the last window covers rows 16-17 only.
    assert pool1.shape[1:3] == (9, 9)
    np.testing.assert_allclose(pool1[0, 8, 8], relu[0, 16:18, 16:18].max(axis=(0, 1)))
    np.testing.assert_allclose(pool1[0, 3, 2], relu[0, 6:9, 4:7].max(axis=(0, 1)))
    assert pool2.shape[1:3] == (4, 4)  # 9 -> ceil(6 / 2) + 1

    # 3x3 average pool, stride 1, pad 1, padding counted: a corner is its 2x2 sum / 9.
    np.testing.assert_allclose(avg[0, 0, 0], pool2[0, :2, :2].sum(axis=(0, 1)) / 9.0, rtol=1e-5)
    np.testing.assert_allclose(avg[0, 2, 2], pool2[0, 1:4, 1:4].mean(axis=(0, 1)), rtol=1e-5)


def test_weights_file_and_flow_init(tmp_path):
    keras.utils.set_random_seed(5)
    rgb, _ = bn_inception.build_features(input_size=64)
    path = tmp_path / "bn_inception.weights.h5"
    rgb.save_weights(path)
    net = build_backbone("bn_inception", channels=10, input_size=64, weights=str(path))
    rgb_kernel = rgb.get_layer("conv1_7x7_s2").kernel.numpy()
    np.testing.assert_allclose(net.trunk.get_layer("conv1_7x7_s2").kernel.numpy(),
                               np.repeat(rgb_kernel.mean(2, keepdims=True), 10, 2), rtol=1e-6)
    for name in ("conv1_7x7_s2_bn", "inception_5b_pool_proj"):
        for ours, theirs in zip(net.trunk.get_layer(name).weights, rgb.get_layer(name).weights):
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_imagenet_weights_point_to_the_converter():
    with pytest.raises(ValueError, match="convert_bn_inception"):
        build_backbone("bn_inception", weights="imagenet")
