"""Stream models (SPEC §3): backbone + attention layer + classifier."""

from iastp_tf.models.stream import build_stream_model

__all__ = ["build_stream_model"]
