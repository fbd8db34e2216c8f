"""Every backbone's stream survives `.keras` save/load and `model.export` (issue 4, SPEC §3).

For every backbone with pyramid attention over 3 scales (RGB; TSM in flow),
for tiny and BN-Inception also in flow with the TSN consensus
(``attention="none"``), and for tiny with the conv1x1 baseline,
the stream model is saved to ``.keras`` and loaded back, and exported as a
SavedModel and loaded with ``tf.saved_model.load``; both must give the
in-memory model's logits. They are fed K = 1 and K = 3 frames, so K is free at
serving time; TSM's K is fixed at its ``num_segments`` (2 here), so its batch
size varies instead.

Tracing an export costs seconds to tens of seconds per model on a CPU, so each
backbone runs at the smallest frame size whose top tap is still 2×2 (with a 1×1
top and K = 1 the attention softmax has one entry, and the attention weights
would play no part), with one video per call; VGG16 at 32 also keeps fc6 at
2048×4096. The cases that take more than a few seconds are marked slow.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.models import build_stream_model
from iastp_tf.models.stream import MODALITY_CHANNELS

TSM_SEGMENTS = 2
# The smallest frame size at which each backbone's top tap is 2×2.
SMALL_SIZE = {"tiny": 32, "vgg16": 32, "bn_inception": 64, "inception_resnet_v2": 107,
              "resnet50": 64, "resnet50_tsm": 64}
SLOW = ("vgg16", "bn_inception", "inception_resnet_v2", "resnet50", "resnet50_tsm")
CASES = [
    ("tiny", "rgb", "pyramid"),
    ("tiny", "flow", "none"),
    ("tiny", "rgb", "conv1x1"),
    ("vgg16", "rgb", "pyramid"),
    ("bn_inception", "rgb", "pyramid"),
    ("bn_inception", "flow", "none"),
    ("inception_resnet_v2", "rgb", "pyramid"),
    ("resnet50", "rgb", "pyramid"),
    ("resnet50_tsm", "flow", "pyramid"),
]


def _case(backbone, modality, attention):
    marks = [pytest.mark.slow] if backbone in SLOW else []
    return pytest.param(backbone, modality, attention, marks=marks,
                        id=f"{backbone}-{modality}-{attention}")


def _frames(batch, frames, size, channels, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 30, (batch, frames, size, size, channels)).astype(np.float32)


def _serving_inputs(backbone, size, channels):
    """Inputs ``[B, K, S, S, C]``: K = 1 and 3, or, for TSM, K = num_segments and B = 1, 2."""
    if backbone == "resnet50_tsm":
        shapes = [(1, TSM_SEGMENTS), (2, TSM_SEGMENTS)]
    else:
        shapes = [(1, 1), (1, 3)]
    return [_frames(batch, frames, size, channels, seed)
            for seed, (batch, frames) in enumerate(shapes)]


def _assert_close(actual, expected):
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("backbone,modality,attention", [_case(*c) for c in CASES])
def test_stream_survives_keras_save_and_export(backbone, modality, attention, tmp_path):
    keras.utils.set_random_seed(11)
    size = SMALL_SIZE[backbone]
    model = build_stream_model(
        backbone,
        modality=modality,
        attention=attention,
        num_scales=3 if attention == "pyramid" else 0,
        num_classes=4,
        input_size=size,
        backbone_kwargs={"num_segments": TSM_SEGMENTS} if backbone == "resnet50_tsm" else None,
    )
    assert model.input.shape[1] is None  # K is a free axis of the model itself
    inputs = _serving_inputs(backbone, size, MODALITY_CHANNELS[modality])
    expected = [model(x, training=False).numpy() for x in inputs]
    for x, logits in zip(inputs, expected):
        assert logits.shape == (x.shape[0], 4)
    # The logits depend on the frames and weights (not a degenerate constant),
    # so the comparisons below tell a faithful reload from a broken one.
    assert not np.allclose(expected[0][0], expected[1][0], rtol=1e-2, atol=1e-3)

    model.save(tmp_path / "stream.keras")
    reloaded = keras.models.load_model(tmp_path / "stream.keras")
    for x, logits in zip(inputs, expected):
        _assert_close(reloaded(x, training=False), logits)

    model.export(str(tmp_path / "saved_model"), verbose=False)
    exported = tf.saved_model.load(str(tmp_path / "saved_model"))
    for x, logits in zip(inputs, expected):
        _assert_close(exported.serve(tf.constant(x)), logits)
