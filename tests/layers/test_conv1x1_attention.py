"""Conv1x1Attention (Table 5 baseline) against a NumPy transcription of SPEC §2."""

import keras
import numpy as np
import pytest

from iastp_tf.layers import Conv1x1Attention
from tests.layer_checks import check_layer
from tests.layers.numpy_reference import np_adaptive_pool, np_softmax, random_levels


def np_conv1x1_attention(levels, kernels, biases, fusion):
    """One sample. levels: list of [K, H_j, W_j, C_j] -> output [H, W, C], a [K, H, W]."""
    k, h, w, _ = levels[-1].shape
    scores = []
    for x, kernel, bias in zip(levels, kernels, biases):
        if x.shape[1:3] != (h, w):
            x = np.stack([np_adaptive_pool(f, h, w, np.max) for f in x])
        scores.append(np.einsum("thwc,c->thw", x, kernel[:, 0]) + bias[0])
    fused = scores[0]
    for s in scores[1:]:
        fused = {"product": fused * s, "sum": fused + s, "max": np.maximum(fused, s)}[fusion]
    a = np_softmax(fused, axis=0)
    a = a / np.linalg.norm(a, axis=0, keepdims=True)
    out = np.zeros(levels[-1].shape[1:])
    for i in range(h):
        for j in range(w):
            out[i, j] = sum(a[t, i, j] * levels[-1][t, i, j] for t in range(k))
    return out, a


@pytest.mark.parametrize("fusion", ["product", "sum", "max"])
@pytest.mark.parametrize("frames,num_levels", [(1, 1), (3, 3), (7, 2)])
def test_matches_numpy_reference(fusion, frames, num_levels):
    levels = random_levels(2, frames, num_levels)
    layer = Conv1x1Attention(
        fusion=fusion,
        return_attention=True,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=1),
        bias_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=2),
    )
    out, a = layer(levels)
    kernels = [v.numpy().astype(np.float64) for v in layer.kernels]
    biases = [v.numpy().astype(np.float64) for v in layer.biases]
    for b in range(2):
        out_ref, a_ref = np_conv1x1_attention([x[b].astype(np.float64) for x in levels], kernels, biases, fusion)
        np.testing.assert_allclose(out[b], out_ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a[b], a_ref, rtol=1e-5, atol=1e-7)


def test_weights_over_frames_have_unit_norm_and_one_frame_passes_through():
    levels = random_levels(2, 4, 3)
    _, a = Conv1x1Attention(return_attention=True)(levels)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    single = random_levels(1, 1, 1)
    np.testing.assert_allclose(Conv1x1Attention()(single)[0], single[0][0, 0], rtol=1e-6)


def test_parameters_are_one_scalar_score_per_level():
    layer = Conv1x1Attention()
    layer(random_levels(1, 2, 3))
    assert layer.count_params() == sum(c + 1 for c in (4, 6, 8))


def test_shared_layer_checks(tmp_path):
    check_layer(Conv1x1Attention, {"fusion": "max"}, [(3, 9, 9, 4), (3, 3, 3, 8)], tmp_path, sublayers=1)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="fusion"):
        Conv1x1Attention(fusion="mean")
