"""Frame-axis plumbing of the stream models (paper §3.4, SPEC §3).

The backbone runs on all B·K frames at once, so a clip ``[B, K, ...]`` is
merged into batch entries before it and split back into clips after it; TSN's
segmental consensus averages the K frames' logits. These layers live here,
beside the attention layers that consume their output, and keep the
registered names (``iastp_tf>MergeFrames`` ...) under which saved ``.keras``
files store them.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="iastp_tf")
class MergeFrames(keras.layers.Layer):
    """``[B, K, H, W, C]`` -> ``[B·K, H, W, C]``: frames become batch entries."""

    def call(self, x):
        return ops.reshape(x, (-1, *x.shape[2:]))  # [B·K, H, W, C]

    def compute_output_shape(self, input_shape):
        batch, frames = input_shape[:2]
        merged = None if batch is None or frames is None else batch * frames
        return (merged, *input_shape[2:])


@keras.saving.register_keras_serializable(package="iastp_tf")
class SplitFrames(keras.layers.Layer):
    """``[B·K, ...]`` -> ``[B, K, ...]``, K read from a reference ``[B, K, ...]``."""

    def call(self, x, reference):
        frames = ops.shape(reference)[1]
        return ops.reshape(x, (-1, frames, *x.shape[1:]))  # [B, K, ...]

    def compute_output_shape(self, x_shape, reference_shape):
        return (reference_shape[0], reference_shape[1], *x_shape[1:])


@keras.saving.register_keras_serializable(package="iastp_tf")
class FrameMean(keras.layers.Layer):
    """Segmental consensus: ``[B, K, N]`` -> ``[B, N]`` by averaging over K."""

    def call(self, x):
        return ops.mean(x, axis=1)  # [B, N]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])
