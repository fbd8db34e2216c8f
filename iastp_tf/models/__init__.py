"""Models (SPEC §3, §6): one stream, and the two-stream fusion models of Table 11."""

from iastp_tf.models.fusion import build_attention_fusion_model, build_motion_reinforced_model
from iastp_tf.models.stream import build_stream_model

__all__ = ["build_attention_fusion_model", "build_motion_reinforced_model", "build_stream_model"]
