"""ResNet-50 with a temporal shift in every residual branch (TSM; SPEC §3, paper Table 14).

Same layers, taps and head as ``resnet50``, plus a :class:`TemporalShift` at the
start of each bottleneck's residual branch (before its first 1×1 convolution,
the shortcut untouched), shifting 1/8 of the channels one frame each way. The
trunk expects the ``num_segments`` frames of each video consecutive in the
batch axis, so a stream built on it must be fed exactly ``num_segments`` frames
per video.
"""

from iastp_tf.backbones.base import Backbone
from iastp_tf.backbones.resnet50 import build_resnet50


def build(channels=3, input_size=None, weights=None, num_segments=8) -> Backbone:
    """Builds TSM ResNet-50 for ``[B*num_segments, S, S, channels]`` frames.

    Args:
      channels: input channels (3 RGB, 10 flow).
      input_size: S (at least 32); ``None`` for 224.
      weights: as for ``resnet50`` (the shift has no weights).
      num_segments: frames per video (8 in the paper's TSM runs).
    """
    if num_segments < 1:
        raise ValueError(f"num_segments must be positive, got {num_segments}")
    return build_resnet50(channels, input_size, weights, num_segments=num_segments,
                          name="resnet50_tsm")
