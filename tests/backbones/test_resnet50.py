"""ResNet-50 and TSM ResNet-50 backbones (SPEC §3): taps, equivalence with keras.applications, flow init."""

import keras
import numpy as np
import pytest

from iastp_tf.backbones import build_backbone
from iastp_tf.backbones.temporal_shift import TemporalShift
from tests.backbones.helpers import gray_frames, saved_reference

SIZE = 64  # equivalence does not depend on the frame size; 64 keeps it cheap


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A randomly initialised keras.applications ResNet50 and its saved weights."""
    return saved_reference(keras.applications.ResNet50, SIZE, 1, tmp_path_factory.mktemp("resnet50"))


def test_taps_at_224():
    net = build_backbone("resnet50")
    assert [tuple(t.shape) for t in net.trunk.outputs] == [
        (None, 28, 28, 512), (None, 14, 14, 1024), (None, 7, 7, 2048)]
    assert tuple(net.head.output.shape) == (None, 2048)
    assert net.input_size == 224


def test_trunk_then_head_equals_keras_applications(reference):
    app, path = reference
    net = build_backbone("resnet50", input_size=SIZE, weights=path)
    frames = np.random.default_rng(0).normal(size=(2, SIZE, SIZE, 3)).astype(np.float32)
    taps = net.trunk(frames)
    np.testing.assert_allclose(net.head(taps[-1]), app(frames), rtol=1e-5, atol=1e-5)
    # Second route: the taps are keras.applications' residual sums, before the ReLU.
    probe = keras.Model(app.input, [app.get_layer(f"conv{s}_block{b}_add").output
                                    for s, b in ((3, 4), (4, 6), (5, 3))])
    for ours, theirs in zip(taps, probe(frames)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    assert all(float(np.min(tap)) < 0 for tap in taps)  # pre-activation


def test_flow_stream_gets_cross_modality_init(reference):
    app, path = reference
    net = build_backbone("resnet50", channels=10, input_size=SIZE, weights=path)
    kernel = net.trunk.get_layer("conv1_conv").kernel.numpy()
    rgb_kernel = app.get_layer("conv1_conv").kernel.numpy()
    assert kernel.shape == (7, 7, 10, 64)
    np.testing.assert_allclose(kernel, np.repeat(rgb_kernel.mean(2, keepdims=True), 10, 2),
                               rtol=1e-6)
    rgb, flow = gray_frames(SIZE, 10)
    np.testing.assert_allclose(net.head(net.trunk(flow)[-1]), app(rgb), rtol=1e-4, atol=1e-4)


def test_tsm_shifts_each_residual_branch_only(reference):
    _, path = reference
    net = build_backbone("resnet50_tsm", input_size=SIZE, weights=path, num_segments=2)
    shifts = [layer for layer in net.trunk.layers if isinstance(layer, TemporalShift)]
    assert len(shifts) == 16 and all(s.num_segments == 2 for s in shifts)
    for stage, blocks in ((2, 3), (3, 4), (4, 6), (5, 3)):
        for block in range(1, blocks + 1):
            name = f"conv{stage}_block{block}"
            first_conv_input = net.trunk.get_layer(f"{name}_1_conv").input
            assert first_conv_input._keras_history.operation.name == f"{name}_shift"
            if block == 1:  # the projection shortcut sees the unshifted input
                shortcut_input = net.trunk.get_layer(f"{name}_0_conv").input
                assert not isinstance(shortcut_input._keras_history.operation, TemporalShift)
    assert [tuple(t.shape) for t in net.trunk.outputs] == [
        (None, 8, 8, 512), (None, 4, 4, 1024), (None, 2, 2, 2048)]
