"""One stream (RGB or flow) of the two-stream network (paper §3.4, SPEC §3).

With attention, the backbone runs on all B·K frames, the attention layer joins
the K maps of the tapped levels into one map, and the rest of the backbone,
dropout and a new classifier turn it into logits::

    [B, K, S, S, C] -> [B·K, S, S, C] -trunk-> taps [B·K, H_j, W_j, C_j]
      -> [B, K, H_j, W_j, C_j] -attention-> [B, H, W, C_top] -head-> [B, D]
      -> dropout -> logits [B, num_classes]

Without attention it is the TSN stream: per-frame logits averaged over the K
frames (segmental consensus).
"""

import gin
import keras
from keras import ops

from iastp_tf.backbones import build_backbone
from iastp_tf.layers import Conv1x1Attention, PyramidAttention

MODALITY_CHANNELS = {"rgb": 3, "flow": 10, "flow_mc": 10}
ATTENTIONS = ("pyramid", "conv1x1", "none")
DEFAULT_DROPOUT = {"rgb": 0.5, "flow": 0.7, "flow_mc": 0.7}


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
        return ops.mean(x, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])


def make_attention(attention, **kwargs):
    """The attention layer named ``attention`` (``"pyramid"`` or ``"conv1x1"``)."""
    if attention == "pyramid":
        return PyramidAttention(name="pyramid_attention", **kwargs)
    return Conv1x1Attention(name="conv1x1_attention", **kwargs)


@gin.configurable
def build_stream_model(
    backbone,
    modality="rgb",
    num_classes=101,
    num_scales=3,
    attention="pyramid",
    multi_label=False,
    dropout=None,
    weights=None,
    input_size=None,
    backbone_kwargs=None,
    attention_kwargs=None,
):
    """Builds one stream: frames ``[B, K, S, S, C]`` -> logits ``[B, num_classes]``.

    Args:
      backbone: a name from :data:`iastp_tf.backbones.BACKBONES`.
      modality: ``"rgb"`` (3 channels), ``"flow"`` or ``"flow_mc"`` (10
        channels: 5 stacked (x, y) pairs).
      num_classes: classifier width.
      num_scales: pyramid levels (1–3; 4 for Inception-ResNet-V2); 0 means no
        attention (TSN consensus).
      attention: ``"pyramid"``, ``"conv1x1"`` (Table 5) or ``"none"`` (TSN).
      multi_label: the logits are meant for per-class sigmoids (Charades).
        The logits are the same either way; training follows the records'
        ``dataset.json`` and refuses a bound value that disagrees with it.
      dropout: rate before the classifier; ``None`` for the paper's 0.5 (RGB)
        or 0.7 (flow).
      weights: backbone weights: ``None``, ``"imagenet"`` or a path.
      input_size: frame size S; ``None`` for the backbone's own.
      backbone_kwargs: extra arguments of the backbone builder.
      attention_kwargs: extra arguments of the attention layer (``fusion``,
        ``downsample``, ``interaction_weight``, ``pyramid_weight``, ...).

    Returns:
      A ``keras.Model`` with K free; its attention layer is the one of type
      ``PyramidAttention`` (or ``Conv1x1Attention``).
    """
    if modality not in MODALITY_CHANNELS:
        raise ValueError(f"modality must be one of {tuple(MODALITY_CHANNELS)}, got {modality!r}")
    if attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    net = build_backbone(
        backbone,
        channels=MODALITY_CHANNELS[modality],
        input_size=input_size,
        weights=weights,
        **(backbone_kwargs or {}),
    )
    use_attention = attention != "none" and num_scales > 0
    if use_attention and not 1 <= num_scales <= net.max_scales:
        raise ValueError(f"num_scales must be in 0..{net.max_scales} for {backbone!r}, got {num_scales}")
    rate = DEFAULT_DROPOUT[modality] if dropout is None else dropout

    size = net.input_size
    frames = keras.Input((None, size, size, MODALITY_CHANNELS[modality]), name="frames")
    merged = MergeFrames(name="merge_frames")(frames)  # [B·K, S, S, C]
    taps = net.trunk(merged)
    dropout_layer = keras.layers.Dropout(rate, name="dropout")
    classifier = keras.layers.Dense(num_classes, dtype="float32", name="classifier")
    if use_attention:
        levels = [SplitFrames(name=f"split_frames_{j}")(tap, frames) for j, tap in enumerate(taps[-num_scales:])]
        joined = make_attention(attention, **(attention_kwargs or {}))(levels)  # [B, H, W, C_top]
        logits = classifier(dropout_layer(net.head(joined)))
    else:
        per_frame = classifier(dropout_layer(net.head(taps[-1])))  # [B·K, N]
        logits = FrameMean(name="consensus")(SplitFrames(name="split_frames")(per_frame, frames))
    name = f"{backbone}_{modality}_{attention if use_attention else 'tsn'}{num_scales if use_attention else ''}"
    return keras.Model(frames, logits, name=name)
