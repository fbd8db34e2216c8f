"""Salient receptive fields from the attention matrix A (paper §5.6, eqs. 17/18).

A ``[K·H·W, H·W]`` (SPEC §2) holds in entry ``(p, m)`` the attention that the
feature vector at input position ``p = t·H·W + h·W + w`` (frame ``t``) gives to
output position ``m = h_m·W + w_m`` of the attention map ``M'``. The paper calls
the receptive fields of the positions whose entry exceeds a threshold salient:

* eq. 17 (Fig. 6): for one fixed output position ``m`` — the paper fixes
  ``(w_m, h_m) = (1, 1)``, the first one — the input positions ``(t, h, w)`` over
  all K frames with ``A[p, m] > threshold`` (threshold 0.5);
* eq. 18 (Fig. 7): for one fixed frame ``t`` — the paper takes the first — and
  every output position ``m``, the positions ``(h, w)`` of that frame with
  ``A[p, m] > threshold`` (threshold 0.7).

The thresholds apply to the entries of A exactly as the layer produces them
(eq. 4: softmax over the K·H·W axis, then each column L2-normalised); the
equations name no further normalisation. Because every column has unit L2 norm,
at most three entries of a column can exceed 0.5 and at most two can exceed
0.7, so the figures mark a few peaks of attention, as the paper's do.
``normalization="column_range"`` first rescales each column linearly so that
its smallest entry becomes 0 and its largest 1, so that the threshold becomes
a fraction of the column's range (the column's peak is always selected) — an
option for briefly trained models whose attention is still nearly uniform
(entries close to ``1/sqrt(K·H·W)``), not the paper's definition.
"""

import keras
import numpy as np

from iastp_tf.layers import PyramidAttention

NORMALIZATIONS = ("none", "column_range")


def normalized_attention(attention, normalization):
    """``attention`` ``[K·H·W, H·W]`` as the thresholds read it."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if normalization == "column_range":
        low = np.min(attention, axis=0, keepdims=True)
        high = np.max(attention, axis=0, keepdims=True)
        return (attention - low) / np.maximum(high - low, np.finfo(np.float32).tiny)
    return attention


def _check(attention, num_frames, grid):
    attention = np.asarray(attention)
    height, width = grid
    expected = (num_frames * height * width, height * width)
    if attention.shape != expected:
        raise ValueError(
            f"attention must be [K*H*W, H*W] = {expected} for K={num_frames}, grid={grid}; "
            f"got {attention.shape}"
        )
    return attention


def salient_for_output(
    attention, num_frames, grid, output_position=(0, 0), threshold=0.5, normalization="none"
) -> np.ndarray:
    """Eq. 17: the input positions over all frames that attend to one output position.

    Args:
      attention: A ``[K·H·W, H·W]`` of one video.
      num_frames: K.
      grid: ``(H, W)`` of the top level (the attention map's size).
      output_position: ``(h_m, w_m)``, 0-based; the paper's eq. 17 uses the
        first, ``(0, 0)``.
      threshold: entries above it are salient (the paper: 0.5).
      normalization: ``"none"`` (the paper) or ``"column_range"`` (see the
        module docstring).

    Returns:
      bool ``[K, H, W]``: ``True`` where ``A[t·H·W + h·W + w, m] > threshold``.
    """
    attention = normalized_attention(_check(attention, num_frames, grid), normalization)
    height, width = grid
    row, col = output_position
    if not (0 <= row < height and 0 <= col < width):
        raise ValueError(f"output_position must lie in the {height}x{width} grid, got {output_position}")
    column = attention[:, row * width + col]  # [K·H·W]
    return column.reshape(num_frames, height, width) > threshold  # [K, H, W]


def salient_for_frame(attention, num_frames, grid, frame=0, threshold=0.7, normalization="none") -> np.ndarray:
    """Eq. 18: for one frame, the positions feeding each output position.

    Args:
      attention: A ``[K·H·W, H·W]`` of one video.
      num_frames: K.
      grid: ``(H, W)`` of the top level.
      frame: t, 0-based; the paper's eq. 18 uses the first, 0.
      threshold: entries above it are salient (the paper: 0.7).
      normalization: ``"none"`` (the paper) or ``"column_range"``.

    Returns:
      bool ``[H_m, W_m, H, W]``: entry ``[h_m, w_m, h, w]`` is
      ``A[t·H·W + h·W + w, h_m·W + w_m] > threshold``.
    """
    attention = normalized_attention(_check(attention, num_frames, grid), normalization)
    height, width = grid
    if not 0 <= frame < num_frames:
        raise ValueError(f"frame must be in 0..{num_frames - 1}, got {frame}")
    positions = height * width
    block = attention[frame * positions : (frame + 1) * positions]  # [H·W (input), H·W (output)]
    return block.T.reshape(height, width, height, width) > threshold  # [H_m, W_m, H, W]


def attention_layer(model: keras.Model) -> PyramidAttention:
    """The model's ``PyramidAttention`` layer; ValueError if it has none or several."""
    layers = [layer for layer in model.layers if isinstance(layer, PyramidAttention)]
    if len(layers) != 1:
        raise ValueError(f"model must hold exactly one PyramidAttention layer, found {len(layers)}")
    return layers[0]


def backbone_trunk(model: keras.Model) -> keras.Model:
    """The backbone trunk nested in a stream model (its first nested ``keras.Model``)."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            return layer
    raise ValueError(f"model {model.name} holds no nested backbone trunk")


def attention_matrices(model: keras.Model, frames) -> np.ndarray:
    """A for each video, from a stream model built with pyramid attention.

    The model's own attention layer is run again with ``return_attention=True``
    (a copy with the same configuration and weights) on the levels the model
    feeds it.

    Args:
      model: a stream model from ``build_stream_model(..., attention="pyramid")``.
      frames: ``[B, K, S, S, C]`` normalised frames.

    Returns:
      float32 A ``[B, K·H·W, H·W]``.
    """
    layer = attention_layer(model)
    levels = layer.input  # [B, K, H_j, W_j, C_j] per level (a bare tensor for one level)
    levels = list(levels) if isinstance(levels, (list, tuple)) else [levels]
    levels_model = keras.Model(model.input, levels)
    config = {**layer.get_config(), "return_attention": True, "name": f"{layer.name}_probe"}
    probe = PyramidAttention.from_config(config)
    values = levels_model(np.asarray(frames, dtype=np.float32), training=False)
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    probe.build([tuple(v.shape) for v in values])
    probe.set_weights(layer.get_weights())
    _, attention = probe(values, training=False)
    return keras.ops.convert_to_numpy(attention)
