"""AdaptivePooling2D against NumPy bins and against Keras' own adaptive pooling."""

import keras
import numpy as np
import pytest

from iastp_tf.layers.pooling import AdaptivePooling2D, adaptive_bins
from tests.layers.numpy_reference import np_adaptive_pool


def test_bins_follow_the_floor_ceil_rule():
    assert adaptive_bins(5, 3) == [(0, 2), (1, 4), (3, 5)]
    assert adaptive_bins(35, 8) == [(0, 5), (4, 9), (8, 14), (13, 18), (17, 22), (21, 27), (26, 31), (30, 35)]


@pytest.mark.parametrize("mode,reduce", [("max", np.max), ("avg", np.mean)])
@pytest.mark.parametrize("size,out", [((9, 9), (3, 3)), ((5, 7), (3, 2)), ((17, 17), (8, 8)), ((28, 28), (7, 7))])
def test_matches_numpy(mode, reduce, size, out):
    x = np.random.default_rng(0).standard_normal((2, *size, 3)).astype("float32")
    y = AdaptivePooling2D(out, mode=mode)(x)
    expected = np.stack([np_adaptive_pool(f.astype(np.float64), *out, reduce) for f in x])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode,reference", [("max", keras.layers.AdaptiveMaxPooling2D), ("avg", keras.layers.AdaptiveAveragePooling2D)])
def test_matches_keras_adaptive_pooling_at_irv2_sizes(mode, reference):
    x = np.random.default_rng(1).standard_normal((1, 35, 35, 4)).astype("float32")
    np.testing.assert_allclose(AdaptivePooling2D((8, 8), mode=mode)(x), reference((8, 8))(x), rtol=1e-5, atol=1e-6)


def test_config_round_trip():
    layer = AdaptivePooling2D((4, 5), mode="avg")
    assert AdaptivePooling2D.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="mode"):
        AdaptivePooling2D((2, 2), mode="min")
