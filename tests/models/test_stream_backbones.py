"""build_stream_model on the paper's backbones (SPEC §3, paper Tables 9, 10, 14).

The big backbones are slow on a CPU, so most checks run at small frame sizes
(the checks do not depend on the size) with one or a few frames, each model is
built once per module, and the full-size and heavy checks are marked slow.
"""

import keras
import numpy as np
import pytest

from iastp_tf.analysis import param_table
from iastp_tf.backbones import build_backbone
from iastp_tf.layers import PyramidAttention
from iastp_tf.models import build_stream_model

SMALL_SIZE = {"vgg16": 64, "bn_inception": 64, "inception_resnet_v2": 75,
              "resnet50": 64, "resnet50_tsm": 64}
HEAVY = ("vgg16", "inception_resnet_v2")
PRE_ACTIVATION = ("vgg16", "inception_resnet_v2", "resnet50", "resnet50_tsm")
TSM_SEGMENTS = 3


def _param(backbone):
    marks = [pytest.mark.slow] if backbone in HEAVY else []
    return pytest.param(backbone, marks=marks, id=backbone)


def _stream(backbone, **kwargs):
    if backbone == "resnet50_tsm":
        kwargs.setdefault("backbone_kwargs", {"num_segments": TSM_SEGMENTS})
    kwargs.setdefault("input_size", SMALL_SIZE[backbone])
    kwargs.setdefault("num_classes", 5)
    return build_stream_model(backbone, **kwargs)


def _frames(batch, frames, size, channels=3, seed=0):
    """0..255 frames, as the input pipeline gives them."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (batch, frames, size, size, channels)).astype(np.float32)


@pytest.fixture(scope="module", params=[_param(b) for b in SMALL_SIZE])
def attention_stream(request):
    """``(backbone, model)``: all taps through pyramid attention, dropout off."""
    backbone = request.param
    keras.utils.set_random_seed(7)
    net = build_backbone(backbone, input_size=SMALL_SIZE[backbone],
                         **({"num_segments": TSM_SEGMENTS} if backbone == "resnet50_tsm" else {}))
    return backbone, _stream(backbone, num_scales=net.max_scales, dropout=0.0)


def _trunk(model):
    return next(layer for layer in model.layers if layer.name.endswith("_trunk"))


def _head(model):
    return next(layer for layer in model.layers if layer.name.endswith("_head"))


def test_levels_for_one_and_three_frames(attention_stream):
    backbone, model = attention_stream
    trunk = _trunk(model)
    expected = [tuple(t.shape[1:]) for t in trunk.outputs]
    layer = next(l for l in model.layers if isinstance(l, PyramidAttention))
    probe = keras.Model(model.input, [model.get_layer(f"split_frames_{j}").output
                                      for j in range(len(expected))])
    frame_counts = (TSM_SEGMENTS,) if backbone == "resnet50_tsm" else (1, 3)
    for frames in frame_counts:
        levels = probe(_frames(1, frames, SMALL_SIZE[backbone]))
        assert [tuple(level.shape) for level in levels] == [(1, frames, *s) for s in expected]
        if backbone in PRE_ACTIVATION:
            assert all(float(np.min(level)) < 0 for level in levels)
    assert layer.count_params() == param_table.attention_formula(expected, len(expected))


@pytest.mark.slow
@pytest.mark.parametrize("backbone,levels", [
    ("vgg16", [(56, 56, 256), (28, 28, 512), (14, 14, 512)]),
    ("bn_inception", [(28, 28, 320), (14, 14, 608), (7, 7, 1024)]),
    ("inception_resnet_v2", [(35, 35, 320), (17, 17, 1088), (8, 8, 2080)]),
    ("resnet50", [(28, 28, 512), (14, 14, 1024), (7, 7, 2048)]),
])
def test_levels_at_the_paper_input_size(backbone, levels):
    model = build_stream_model(backbone, num_scales=3)
    layer = next(l for l in model.layers if isinstance(l, PyramidAttention))
    assert [tuple(t.shape) for t in layer.input] == [(None, None, *level) for level in levels]
    size = 299 if backbone == "inception_resnet_v2" else 224
    assert model(_frames(1, 1, size), training=False).shape == (1, 101)


@pytest.mark.parametrize("backbone", ["vgg16", "bn_inception", "resnet50"])
def test_added_parameters_follow_the_formula(backbone):
    rows = param_table.parameter_rows(backbone, num_classes=101, max_scales=3,
                                      input_size=SMALL_SIZE[backbone])
    taps = [tuple(t.shape[1:]) for t in
            build_backbone(backbone, input_size=SMALL_SIZE[backbone]).trunk.outputs]
    height, width, _ = taps[-1]
    for row in rows:
        used = taps[len(taps) - row.num_scales:] if row.num_scales else []
        assert row.added == sum(c * height * width + height * width for _, _, c in used)


@pytest.mark.slow
def test_inception_resnet_v2_reproduces_table_10_deltas():
    rows = param_table.parameter_rows("inception_resnet_v2", num_classes=101, max_scales=4)
    # Independent: C_j*64 + 64 for block8_10 (2080), block17_20 (1088), block35_10 (320), 4a (192).
    expected, total = [0], 0
    for channels in (2080, 1088, 320, 192):
        total += channels * 64 + 64
        expected.append(total)
    assert [row.added for row in rows] == expected
    # Table 10: +0.13, +0.20, +0.22 M over the original (57.24/57.31/57.33 - 57.11).
    assert [round(row.added / 1e6, 2) for row in rows[1:4]] == [0.13, 0.20, 0.22]
    assert [round(row.paper_added, 2) for row in rows[1:4]] == [0.13, 0.20, 0.22]


def test_tsn_stream_equals_the_plain_keras_applications_network():
    """num_scales=0 with one frame: keras.applications ResNet50 after its own preprocess_input + the same classifier."""
    model = _stream("resnet50", num_scales=0, attention="none", dropout=0.0)
    size = SMALL_SIZE["resnet50"]
    plain = keras.applications.ResNet50(include_top=False, weights=None,
                                        input_shape=(size, size, 3), pooling="avg")
    trunk, head = _trunk(model), _head(model)
    for layer in plain.layers:
        if layer.weights:
            owner = trunk if layer.name != "avg_pool" else head
            layer.set_weights(owner.get_layer(layer.name).get_weights())
    x = _frames(2, 1, size)
    classifier = model.get_layer("classifier")
    expected = classifier(plain(keras.applications.resnet50.preprocess_input(x[:, 0].copy()))).numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-4)


def test_flow_stream_starts_from_the_rgb_weights(tmp_path):
    size = SMALL_SIZE["resnet50"]
    rgb = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(size, size, 3))
    path = str(tmp_path / "rgb.weights.h5")
    rgb.save_weights(path)
    model = _stream("resnet50", modality="flow", weights=path, num_scales=2)
    trunk = _trunk(model)
    rgb_kernel = rgb.get_layer("conv1_conv").kernel.numpy()
    flow_kernel = trunk.get_layer("conv1_conv").kernel.numpy()
    assert flow_kernel.shape == (7, 7, 10, 64)
    for channel in range(10):
        np.testing.assert_allclose(flow_kernel[:, :, channel], rgb_kernel.mean(axis=2), rtol=1e-6)
    np.testing.assert_array_equal(trunk.get_layer("conv5_block3_3_conv").kernel.numpy(),
                                  rgb.get_layer("conv5_block3_3_conv").kernel.numpy())
