"""Adaptive pooling for R of eq. 1 (SPEC §2): ``[N, S1, S2, C]`` -> ``[N, H, W, C]``.

Bin i along an axis of size S pooled to H covers ``floor(i·S/H)`` up to
``ceil((i+1)·S/H)`` (exclusive), as in PyTorch and Keras' adaptive pooling.
When H divides S the bins are the windows of an ordinary stride-S/H pool, the
fastest path. Otherwise each axis is pooled separately: the bins have at most
two lengths, so one stride-1 pool per length covers every bin start, and a
gather picks the bins (cheaper forward and backward than Keras' 3-D route).
"""

import math

import keras
from keras import ops


def adaptive_bins(size, out_size):
    """``[(start, end), ...]`` of the ``out_size`` bins over an axis of ``size``."""
    return [(math.floor(i * size / out_size), math.ceil((i + 1) * size / out_size)) for i in range(out_size)]


@keras.saving.register_keras_serializable(package="iastp_tf")
class AdaptivePooling2D(keras.layers.Layer):
    """Max or average pooling to a fixed output size with adaptive bins.

    Args:
      output_size: ``(H, W)`` of the output.
      mode: ``"max"`` or ``"avg"``.

    Call args:
      x: ``[N, S1, S2, C]`` with static S1 >= H, S2 >= W.

    Returns:
      ``[N, H, W, C]``.
    """

    def __init__(self, output_size, mode="max", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("max", "avg"):
            raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
        self.output_size = tuple(int(s) for s in output_size)
        self.mode = mode

    def _pool(self, x, window):
        pool = ops.max_pool if self.mode == "max" else ops.average_pool
        return pool(x, pool_size=window, strides=1, padding="valid")

    def _pool_axis(self, x, axis):
        """Pools axis 1 or 2 of ``x`` to ``self.output_size[axis - 1]`` bins."""
        size, out_size = x.shape[axis], self.output_size[axis - 1]
        if size == out_size:
            return x
        bins = adaptive_bins(size, out_size)
        lengths = sorted({end - start for start, end in bins})
        pooled, offsets, offset = [], {}, 0
        for length in lengths:
            window = (length, 1) if axis == 1 else (1, length)
            pooled.append(self._pool(x, window))  # every start 0 .. size - length
            offsets[length] = offset
            offset += size - length + 1
        pooled = pooled[0] if len(pooled) == 1 else ops.concatenate(pooled, axis=axis)
        return ops.take(pooled, [offsets[end - start] + start for start, end in bins], axis=axis)

    def call(self, x):
        (s1, s2), (h, w) = x.shape[1:3], self.output_size
        if s1 % h == 0 and s2 % w == 0:
            window = (s1 // h, s2 // w)
            pool = ops.max_pool if self.mode == "max" else ops.average_pool
            return pool(x, pool_size=window, strides=window, padding="valid")
        return self._pool_axis(self._pool_axis(x, 1), 2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_size, input_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update(output_size=self.output_size, mode=self.mode)
        return config
