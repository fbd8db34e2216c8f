"""One stream (RGB or flow) of the two-stream network (paper §3.4, SPEC §3).

The model takes 0..255 frames: its first layer flips them at random in
training and normalises them for the backbone (``FramePreprocessing``). With
attention, the backbone runs on all B·K frames, the attention layer joins
the K maps of the tapped levels into one map, and the rest of the backbone,
dropout and a new classifier turn it into logits::

    [B, K, S, S, C] -> [B·K, S, S, C] -trunk-> taps [B·K, H_j, W_j, C_j]
      -> [B, K, H_j, W_j, C_j] -attention-> [B, H, W, C_top] -head-> [B, D]
      -> dropout -> logits [B, num_classes]

Without attention it is the TSN stream: per-frame logits averaged over the K
frames (segmental consensus). :func:`stream_logits` is that ending, shared with
the fusion models.

The top level is the backbone's top tap unless ``top_level`` moves it (paper
§5.1.1, Table 1): to a lower tap (Inception-ResNet-A or B), the rest of the
backbone then running from M, or to ``"fc"``, the backbone's pooled features
``[B·K, D]`` seen as 1×1 maps. Over an FC layer (H = W = 1) the attention has
K positions, one per frame: A ``[K, 1]`` is a softmax over the frames,
L2-normalised, and M ``[1, 1, D]`` is the frames' features weighted by it —
temporal attention with no spatial part (``kernel_1`` ``[D, 1]``, ``bias_1``
``[1]``: D + 1 parameters); the interaction loss's off-diagonal term is then
empty and only its energy term acts.

TSN's partial BN (``partial_bn=True``) freezes every BatchNormalization layer
of the backbone but the first: moving statistics and gamma/beta stay as loaded.
"""

import gin
import keras

from iastp_tf.backbones import Backbone, build_backbone
from iastp_tf.layers import (
    Conv1x1Attention,
    FrameMean,
    FramePreprocessing,
    MergeFrames,
    PyramidAttention,
    SplitFrames,
)
from iastp_tf.models import arguments

MODALITY_CHANNELS = {"rgb": 3, "flow": 10, "flow_mc": 10}
ATTENTIONS = ("pyramid", "conv1x1", "none")
DEFAULT_DROPOUT = {"rgb": 0.5, "flow": 0.7, "flow_mc": 0.7}
FC_LEVEL = "fc"


def make_attention(attention, **kwargs):
    """The attention layer named ``attention`` (``"pyramid"`` or ``"conv1x1"``)."""
    if attention == "pyramid":
        return PyramidAttention(name="pyramid_attention", **kwargs)
    return Conv1x1Attention(name="conv1x1_attention", **kwargs)


def stream_logits(features, frames, head, num_classes, dropout, attention="none", attention_kwargs=None):
    """The end of every stream: attention -> head -> dropout -> classifier, or TSN consensus.

    Args:
      features: with attention, the levels, a list of ``[B, K, H_j, W_j, C_j]``
        (lowest first); with ``attention="none"``, the top tap
        ``[B·K, H, W, C_top]``.
      frames: the model's frames ``[B, K, ...]`` (the consensus reads K there).
      head: the rest of the backbone, ``[N, H, W, C_top]`` -> ``[N, D]``.
      num_classes: classifier width.
      dropout: rate before the classifier.
      attention: ``"pyramid"``, ``"conv1x1"`` or ``"none"``.
      attention_kwargs: extra arguments of the attention layer.

    Returns:
      float32 logits ``[B, num_classes]``.
    """
    dropout_layer = keras.layers.Dropout(dropout, name="dropout")
    classifier = keras.layers.Dense(num_classes, dtype="float32", name="classifier")
    if attention != "none":
        joined = make_attention(attention, **(attention_kwargs or {}))(features)  # [B, H, W, C_top]
        return classifier(dropout_layer(head(joined)))
    per_frame = classifier(dropout_layer(head(features)))  # [B·K, N]
    return FrameMean(name="consensus")(SplitFrames(name="split_frames")(per_frame, frames))  # [B, N]


def _sublayers(model):
    """Every leaf layer of ``model``, nested models opened, in topological order."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _sublayers(layer)
        else:
            yield layer


def apply_partial_bn(net: Backbone) -> list:
    """TSN's partial BN: freezes every BatchNormalization layer of ``net`` but the first.

    A frozen layer (``trainable = False``) runs in inference mode in training
    too, so its moving statistics stay, and its gamma/beta get no updates.
    The first one (after the first convolution) keeps learning: it adapts the
    input distribution, which for flow differs most from ImageNet's.

    Returns:
      The frozen layers.
    """
    seen, batch_norms = set(), []
    for model in (net.trunk, net.head):
        for layer in _sublayers(model):
            if isinstance(layer, keras.layers.BatchNormalization) and id(layer) not in seen:
                seen.add(id(layer))
                batch_norms.append(layer)
    for layer in batch_norms[1:]:
        layer.trainable = False
    return batch_norms[1:]


def _check_arguments(backbone, modality, num_classes, num_scales, attention, multi_label, dropout, weights,
                     input_size, backbone_kwargs, attention_kwargs, top_level, partial_bn):
    """The checks that need no backbone; each message names the gin setting."""
    builder = "build_stream_model"
    arguments.check_shared(builder, backbone, num_classes, num_scales, multi_label, dropout, weights, input_size,
                           backbone_kwargs, attention_kwargs, dropout_may_be_none=True)
    arguments.check_choice(builder, "modality", modality, tuple(MODALITY_CHANNELS))
    arguments.check_choice(builder, "attention", attention, ATTENTIONS)
    if top_level is not None and not isinstance(top_level, str):
        raise arguments.setting_error(builder, "top_level", "None or a level name", top_level)
    arguments.check_bool(builder, "partial_bn", partial_bn)


def _top_index(net: Backbone, top_level, num_scales, use_attention):
    """Index of the top level's tap (``len(taps)`` for ``"fc"``), checked against ``num_scales``."""
    builder = "build_stream_model"
    if top_level is None:
        top = net.max_scales - 1
    else:
        names = (*net.level_names, FC_LEVEL)
        if top_level not in names:
            raise arguments.setting_error(builder, "top_level", f"None or one of {names} for {net.name!r}", top_level)
        if not use_attention:
            raise arguments.setting_error(
                builder, "top_level", "None without attention (num_scales 0 or attention 'none')", top_level
            )
        top = names.index(top_level)
    if use_attention:
        highest = 1 if top == net.max_scales else top + 1
        below = "" if top_level is None else f" with top_level {top_level!r}"
        arguments.check_int(builder, "num_scales", num_scales, 0, highest, where=f" for {net.name!r}{below}")
    return top


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
    top_level=None,
    partial_bn=False,
):
    """Builds one stream: frames ``[B, K, S, S, C]`` -> logits ``[B, num_classes]``.

    The frames are 0..255 (as the input pipeline gives them); the model's
    first layer (:class:`iastp_tf.layers.FramePreprocessing`) flips them at
    random in training and normalises them for the backbone.

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
      top_level: where the pyramid's top level sits (paper Table 1): ``None``
        for the backbone's top tap, one of the backbone's level names (for
        Inception-ResNet-V2 ``"block_a"``, ``"block_b"``, ``"block_c"`` — the
        last layers of Inception-ResNet-A, B, C — or ``"conv2d_4a"``), the
        rest of the backbone then running from M; or ``"fc"``: the pooled
        features ``[D]`` as a 1×1 map (1 scale only; see the module
        docstring). ``num_scales`` counts levels from the top level down.
      partial_bn: TSN's partial BN: freeze every BatchNormalization layer of
        the backbone except the first (see :func:`apply_partial_bn`).

    Returns:
      A ``keras.Model`` with K free; its attention layer is the one of type
      ``PyramidAttention`` (or ``Conv1x1Attention``).

    Raises:
      ValueError: naming the bad argument and its gin setting.
    """
    _check_arguments(backbone, modality, num_classes, num_scales, attention, multi_label, dropout, weights,
                     input_size, backbone_kwargs, attention_kwargs, top_level, partial_bn)
    net = build_backbone(
        backbone,
        channels=MODALITY_CHANNELS[modality],
        input_size=input_size,
        weights=weights,
        **(backbone_kwargs or {}),
    )
    use_attention = attention != "none" and num_scales > 0
    top = _top_index(net, top_level, num_scales, use_attention)
    if partial_bn and not apply_partial_bn(net):
        expected = f"False for {backbone!r}, which has fewer than two BN layers"
        raise arguments.setting_error("build_stream_model", "partial_bn", expected, partial_bn)
    rate = DEFAULT_DROPOUT[modality] if dropout is None else dropout

    size = net.input_size
    frames = keras.Input((None, size, size, MODALITY_CHANNELS[modality]), name="frames")
    preprocessed = FramePreprocessing(backbone, modality, name="preprocessing")(frames)  # flip, normalise
    merged = MergeFrames(name="merge_frames")(preprocessed)  # [B·K, S, S, C]
    if top == net.max_scales:  # "fc": the pooled features as a 1×1 map
        pooled = net.head(net.trunk(merged)[-1])  # [B·K, D]
        top_map = keras.layers.Reshape((1, 1, pooled.shape[-1]), name="fc_map")(pooled)  # [B·K, 1, 1, D]
        features = [SplitFrames(name="split_frames_fc")(top_map, frames)]  # [B, K, 1, 1, D]
        head = keras.layers.Flatten(name="fc_features")  # [B, 1, 1, D] -> [B, D]
    else:
        trunk, head = net.split(top)
        taps = trunk(merged)
        taps = taps if isinstance(taps, (list, tuple)) else [taps]
        if use_attention:
            features = [SplitFrames(name=f"split_frames_{j}")(tap, frames) for j, tap in enumerate(taps[-num_scales:])]
        else:
            features = taps[-1]
    logits = stream_logits(
        features, frames, head, num_classes, rate, attention if use_attention else "none", attention_kwargs
    )
    name = f"{backbone}_{modality}_{attention if use_attention else 'tsn'}{num_scales if use_attention else ''}"
    if top_level is not None:
        name += f"_{top_level}"
    return keras.Model(frames, logits, name=name)
