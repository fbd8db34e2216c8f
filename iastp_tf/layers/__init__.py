"""Layers (paper §3, SPEC §2): the attention layers, the frame-axis plumbing and the input preprocessing."""

from iastp_tf.layers.conv1x1_attention import Conv1x1Attention
from iastp_tf.layers.frames import FrameMean, MergeFrames, SplitFrames
from iastp_tf.layers.motion_gate import MotionGate
from iastp_tf.layers.preprocessing import FramePreprocessing
from iastp_tf.layers.pyramid_attention import PyramidAttention

__all__ = [
    "Conv1x1Attention",
    "FrameMean",
    "FramePreprocessing",
    "MergeFrames",
    "MotionGate",
    "PyramidAttention",
    "SplitFrames",
]
