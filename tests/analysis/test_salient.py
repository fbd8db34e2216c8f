"""Salient-position selection (eqs. 17/18) and reading A out of a stream model."""

import numpy as np
import pytest

from iastp_tf.analysis import salient
from iastp_tf.models import build_stream_model

K, H, W = 3, 2, 3


def _known_attention():
    """A [K*H*W, H*W] with distinct entries in 0..1, some above 0.5 and 0.7."""
    rng = np.random.default_rng(7)
    return rng.permutation(np.linspace(0.0, 0.99, K * H * W * H * W)).reshape(K * H * W, H * W)


def _numpy_eq17(attention, output_position, threshold):
    h_m, w_m = output_position
    m = h_m * W + w_m
    return {
        (t, h, w)
        for t in range(K)
        for h in range(H)
        for w in range(W)
        if attention[t * H * W + h * W + w, m] > threshold
    }


def _numpy_eq18(attention, frame, threshold):
    return {
        (h_m, w_m, h, w)
        for h_m in range(H)
        for w_m in range(W)
        for h in range(H)
        for w in range(W)
        if attention[frame * H * W + h * W + w, h_m * W + w_m] > threshold
    }


def _as_set(mask):
    return {tuple(int(i) for i in index) for index in np.argwhere(mask)}


@pytest.mark.parametrize("output_position", [(0, 0), (1, 2), (0, 1)])
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.9])
def test_eq17_equals_numpy_selection(output_position, threshold):
    attention = _known_attention()
    mask = salient.salient_for_output(attention, K, (H, W), output_position, threshold)
    assert mask.shape == (K, H, W)
    assert _as_set(mask) == _numpy_eq17(attention, output_position, threshold)


@pytest.mark.parametrize("frame", [0, 2])
@pytest.mark.parametrize("threshold", [0.5, 0.7])
def test_eq18_equals_numpy_selection(frame, threshold):
    attention = _known_attention()
    mask = salient.salient_for_frame(attention, K, (H, W), frame, threshold)
    assert mask.shape == (H, W, H, W)
    assert _as_set(mask) == _numpy_eq18(attention, frame, threshold)


def test_thresholds_change_the_selection():
    attention = _known_attention()
    low = salient.salient_for_output(attention, K, (H, W), threshold=0.2)
    mid = salient.salient_for_output(attention, K, (H, W), threshold=0.5)
    high = salient.salient_for_output(attention, K, (H, W), threshold=0.8)
    assert low.sum() > mid.sum() > high.sum()
    assert np.all(low >= mid) and np.all(mid >= high)  # nested selections
    assert not salient.salient_for_frame(attention, K, (H, W), threshold=1.0).any()
    # Strictly greater: an entry equal to the threshold is not selected.
    top = attention[:, 0].max()
    assert not salient.salient_for_output(attention, K, (H, W), threshold=top).any()


def test_column_range_normalisation_reads_thresholds_as_fractions_of_the_range():
    attention = np.full((K * H * W, H * W), 0.1)
    attention[5, 0] = 0.3  # frame 0, (h, w) = (1, 2): the peak of column 0
    attention[7, 0] = 0.22  # frame 1, (0, 1): 60% of the way from 0.1 to 0.3
    attention[9, 0] = 0.18  # frame 1, (1, 0): 40%
    assert not salient.salient_for_output(attention, K, (H, W), threshold=0.5).any()
    relative = salient.salient_for_output(attention, K, (H, W), threshold=0.5, normalization="column_range")
    assert _as_set(relative) == {(0, 1, 2), (1, 0, 1)}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"output_position": (2, 0)}, "output_position"),
        ({"normalization": "softmax"}, "normalization"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        salient.salient_for_output(_known_attention(), K, (H, W), **kwargs)
    with pytest.raises(ValueError, match="attention must be"):
        salient.salient_for_output(np.zeros((4, 4)), K, (H, W))
    with pytest.raises(ValueError, match="frame"):
        salient.salient_for_frame(_known_attention(), K, (H, W), frame=K)


@pytest.mark.parametrize("num_scales", [1, 3])
def test_attention_matrices_reproduce_the_models_attention_output(num_scales):
    import keras

    model = build_stream_model("tiny", num_classes=4, num_scales=num_scales, input_size=32)
    layer = salient.attention_layer(model)
    # Non-zero biases so that copying the weights into the probe matters.
    layer.set_weights([w + np.random.uniform(-1, 1, w.shape) for w in layer.get_weights()])
    frames = np.random.uniform(-1, 1, (2, 4, 32, 32, 3)).astype("float32")
    attention = salient.attention_matrices(model, frames)
    assert attention.shape == (2, 4 * 2 * 2, 2 * 2)  # 32 px -> a 2x2 top level
    np.testing.assert_allclose(np.linalg.norm(attention, axis=1), 1.0, rtol=1e-5)

    levels = layer.input if num_scales > 1 else [layer.input]
    inner = keras.Model(model.input, [layer.output, levels[-1]])
    output, top = (np.asarray(v) for v in inner(frames))
    top = top.reshape(2, 4 * 2 * 2, -1)  # [B, K*H*W, C]
    expected = np.einsum("bpm,bpc->bmc", attention, top).reshape(output.shape)  # M = A^T X_top
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-5)
