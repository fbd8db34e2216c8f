"""build_stream_model's top_level (paper §5.1.1, Table 1): where a 1-scale pyramid's top level sits.

Each choice builds, trains a step, survives `.keras` save/load, and adds
exactly the parameters its design implies: ``C·H·W + H·W`` per level of the
pyramid, with H, W the top level's size (for ``"fc"``, H = W = 1 and C the
pooled feature width). The count is checked against the backbone's own
parameters plus the classifier, counted on a separately built backbone, so a
layer lost or duplicated by the split shows up too.
"""

import keras
import numpy as np
import pytest

from iastp_tf.backbones import build_backbone
from iastp_tf.layers import PyramidAttention
from iastp_tf.models import build_stream_model

CLASSES = 3
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
# tiny at 32: conv2 8x8x24, conv3 4x4x32, conv4 2x2x48, pooled features 48.
TINY_LEVELS = {"conv2": (8, 8, 24), "conv3": (4, 4, 32), "conv4": (2, 2, 48), "fc": (1, 1, 48)}
# Inception-ResNet-V2 at 75 (the smallest input it takes): block35_10 7x7x320,
# block17_20 3x3x1088, block8_10 1x1x2080; pooled features 1536.
IRV2_LEVELS = {"block_a": (7, 7, 320), "block_b": (3, 3, 1088), "block_c": (1, 1, 2080), "fc": (1, 1, 1536)}


def _attention(model):
    return next(layer for layer in model.layers if isinstance(layer, PyramidAttention))


def _levels(layer):
    inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
    return [tuple(t.shape[2:]) for t in inputs]


def _backbone_parameters(backbone, size):
    net = build_backbone(backbone, input_size=size)
    return net.trunk.count_params() + net.head.count_params(), net.head.outputs[0].shape[-1]


def _check_parameters(model, backbone, size, levels):
    """Model = backbone + Σ (C_j·H·W + H·W) + the D -> classes classifier."""
    backbone_parameters, features = _backbone_parameters(backbone, size)
    height, width, _ = levels[-1]
    added = sum(channels * height * width + height * width for _, _, channels in levels)
    assert _attention(model).count_params() == added
    assert model.count_params() == backbone_parameters + added + features * CLASSES + CLASSES


def _train_step(model, frames, size, batch=2):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, frames, size, size, 3)).astype("float32")
    y = np.arange(batch) % CLASSES
    model.compile(keras.optimizers.SGD(0.01), LOSS)
    before = [w.numpy() for w in _attention(model).trainable_weights]
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"])
    after = [w.numpy() for w in _attention(model).trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    return x


@pytest.mark.parametrize("top_level", list(TINY_LEVELS))
def test_tiny_top_level_builds_trains_and_counts(top_level, tmp_path):
    model = build_stream_model("tiny", num_classes=CLASSES, input_size=32, num_scales=1, top_level=top_level)
    assert _levels(_attention(model)) == [TINY_LEVELS[top_level]]
    _check_parameters(model, "tiny", 32, [TINY_LEVELS[top_level]])
    x = _train_step(model, frames=3, size=32)
    path = tmp_path / "model.keras"
    model.save(path)
    np.testing.assert_allclose(keras.models.load_model(path).predict(x, verbose=0),
                               model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_top_level_below_the_top_runs_the_rest_of_the_backbone_from_m():
    """conv3 as top: the head runs tiny's conv4 and pooling on M; checked by hand."""
    model = build_stream_model("tiny", num_classes=CLASSES, input_size=32, num_scales=2, top_level="conv3",
                               dropout=0.0)
    layer = _attention(model)
    assert _levels(layer) == [TINY_LEVELS["conv2"], TINY_LEVELS["conv3"]]
    trunk = model.get_layer("tiny_trunk")
    x = np.random.default_rng(1).uniform(0, 255, (2, 3, 32, 32, 3)).astype("float32")
    taps = trunk((x / 127.5 - 1).reshape(6, 32, 32, 3))  # tiny's normalisation, the model's first layer
    assert len(taps) == 2  # cut at conv3: conv4 is not run per frame
    m = layer([t.numpy().reshape(2, 3, *t.shape[1:]) for t in taps])  # [2, 4, 4, 32]
    assert "tiny_conv4" not in [l.name for l in trunk.layers]
    conv4 = model.get_layer("tiny_head").get_layer("tiny_conv4")
    relu3 = model.get_layer("tiny_head").get_layer("tiny_relu3")
    features = np.maximum(conv4(relu3(m)).numpy(), 0).mean(axis=(1, 2))  # ReLU + global average pooling
    expected = features @ model.get_layer("classifier").kernel.numpy() + model.get_layer("classifier").bias.numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)


def test_fc_attention_weights_the_frames():
    """Over the pooled features (H = W = 1) the attention is a per-frame weighting: A is [K, 1]."""
    model = build_stream_model("tiny", num_classes=CLASSES, input_size=32, num_scales=1, top_level="fc")
    layer = _attention(model)
    x = np.random.default_rng(2).standard_normal((2, 5, 32, 32, 3)).astype("float32")
    pooled = keras.Model(model.input, model.get_layer("split_frames_fc").output)(x).numpy()  # [2, 5, 1, 1, 48]
    viewer = PyramidAttention.from_config({**layer.get_config(), "return_attention": True})
    viewer([pooled])
    viewer.set_weights(layer.get_weights())
    m, a = viewer([pooled])
    assert tuple(a.shape) == (2, 5, 1) and tuple(m.shape) == (2, 1, 1, 48)
    kernel, bias = (w.numpy() for w in layer.weights)
    scores = pooled[:, :, 0, 0] @ kernel[:, 0] + bias[0]  # [2, 5]: one score per frame
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= np.linalg.norm(weights, axis=1, keepdims=True)  # softmax, then L2 (the sum cancels)
    np.testing.assert_allclose(a[..., 0], weights, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(m[:, 0, 0], np.einsum("bk,bkc->bc", weights, pooled[:, :, 0, 0]), rtol=1e-4,
                               atol=1e-4)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"top_level": "block_a"}, r"top_level must be None or one of \('conv2', 'conv3', 'conv4', 'fc'\)"),
        ({"top_level": 2}, "top_level must be None or a level name"),
        ({"top_level": "conv3", "num_scales": 3}, r"num_scales must be an int in 0..2 for 'tiny' with top_level"),
        ({"top_level": "fc", "num_scales": 2}, "num_scales must be an int in 0..1"),
        ({"top_level": "conv3", "attention": "none"}, "top_level must be None without attention"),
    ],
)
def test_bad_top_levels_are_named(kwargs, match):
    kwargs.setdefault("num_scales", 1)
    with pytest.raises(ValueError, match=match):
        build_stream_model("tiny", num_classes=CLASSES, input_size=32, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("top_level", list(IRV2_LEVELS))
def test_inception_resnet_v2_top_levels_of_table_1(top_level):
    model = build_stream_model("inception_resnet_v2", num_classes=CLASSES, input_size=75, num_scales=1,
                               top_level=top_level)
    assert _levels(_attention(model)) == [IRV2_LEVELS[top_level]]
    _check_parameters(model, "inception_resnet_v2", 75, [IRV2_LEVELS[top_level]])
    if top_level in ("block_a", "fc"):  # the two new paths (the rest of the backbone after M; pooled features)
        _train_step(model, frames=2, size=75, batch=1)
