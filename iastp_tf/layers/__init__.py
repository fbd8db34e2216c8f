"""Attention layers (paper §3, SPEC §2)."""

from iastp_tf.layers.conv1x1_attention import Conv1x1Attention
from iastp_tf.layers.pyramid_attention import PyramidAttention

__all__ = ["Conv1x1Attention", "PyramidAttention"]
