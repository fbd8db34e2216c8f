"""Temporal shift (TSM, Lin et al. 2019), used by ``resnet50_tsm`` (SPEC §3, paper Table 14).

Frames arrive merged into the batch axis, ``[B*T, H, W, C]`` with the T frames
of one video consecutive. Per video, the first ``C // fold_div`` channels move
one frame back (frame t takes frame t+1's values) and the next ``C // fold_div``
move one frame forward (frame t takes frame t-1's); frames with no neighbour get
zeros there. The remaining channels pass unchanged.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="iastp_tf")
class TemporalShift(keras.layers.Layer):
    """Shifts a fraction of the channels by one frame in each direction.

    Args:
      num_segments: T, frames per video in the merged batch axis.
      fold_div: 1/fold_div of the channels shift each way (8 in TSM).

    Call args:
      inputs: ``[B*T, H, W, C]`` with a static C.

    Returns:
      ``[B*T, H, W, C]``.
    """

    def __init__(self, num_segments=8, fold_div=8, **kwargs):
        super().__init__(**kwargs)
        if num_segments < 1:
            raise ValueError(f"num_segments must be positive, got {num_segments}")
        if fold_div < 2:
            raise ValueError(f"fold_div must be at least 2, got {fold_div}")
        self.num_segments = num_segments
        self.fold_div = fold_div

    def call(self, inputs):
        channels = inputs.shape[-1]
        shape = ops.shape(inputs)
        height, width = shape[1], shape[2]
        fold = channels // self.fold_div
        frames = ops.reshape(
            inputs, (-1, self.num_segments, height, width, channels)
        )  # [B, T, H, W, C]
        pad_end = [[0, 0], [0, 1], [0, 0], [0, 0], [0, 0]]
        pad_start = [[0, 0], [1, 0], [0, 0], [0, 0], [0, 0]]
        from_next = ops.pad(frames[:, 1:, :, :, :fold], pad_end)  # [B, T, H, W, fold]
        from_previous = ops.pad(frames[:, :-1, :, :, fold : 2 * fold], pad_start)
        shifted = ops.concatenate(
            [from_next, from_previous, frames[:, :, :, :, 2 * fold :]], axis=-1
        )  # [B, T, H, W, C]
        return ops.reshape(shifted, (-1, height, width, channels))  # [B*T, H, W, C]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"num_segments": self.num_segments, "fold_div": self.fold_div})
        return config
