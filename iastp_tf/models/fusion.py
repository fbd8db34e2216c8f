"""Fusion modes beyond late fusion (paper §4 and Table 11; SPEC §6).

The paper compares late fusion of the RGB and flow streams' scores with
attention fusion, an extra motion-compensated flow stream and a
motion-reinforced RGB stream; its appendix with the details is not available,
so SPEC §6 fixes the designs built here:

* Attention fusion (:func:`build_attention_fusion_model`): both streams'
  backbones run on their B·K frames; at every tapped level the RGB and flow
  maps are joined along the frame axis as 2K frames and enter ONE
  :class:`~iastp_tf.layers.PyramidAttention`; its output runs through the rest
  of the RGB backbone, dropout and a classifier. Both streams use the same
  backbone, so their channel counts match; an optional 1×1 projection on the
  flow maps (identity-initialised) lets them be re-mixed before joining.
* Motion reinforcement (:func:`build_motion_reinforced_model`): the flow
  trunk's features at one tapped level give a spatial attention map (1×1 conv +
  sigmoid, :class:`~iastp_tf.layers.MotionGate`) that multiplies the RGB features at the same
  level, as in the cross-stream multiplicative connections of ST-ResNet
  (paper refs. [29, 93]); the RGB stream then goes on to its logits.

Both take 0..255 frames; one ``FramePreprocessing`` layer normalises both
inputs and, in training, flips each clip's RGB and flow frames together.

Motion-compensated flow is a data-side mode (records prepared with
``--flow_compensation``, modality ``"flow_mc"``) and needs no model here.
"""

import gin
import keras

from iastp_tf.backbones import build_backbone
from iastp_tf.layers import FramePreprocessing, MergeFrames, MotionGate, SplitFrames
from iastp_tf.models import arguments
from iastp_tf.models.stream import ATTENTIONS, stream_logits

FLOW_CHANNELS = 10
FLOW_MODALITIES = ("flow", "flow_mc")


def _renamed(model, name):
    """The same layers (and weights) as ``model``, as a model called ``name``."""
    return keras.Model(model.inputs, model.outputs if len(model.outputs) > 1 else model.output, name=name)


def _frames_input(modality, channels, input_size):
    return keras.Input((None, input_size, input_size, channels), name=modality)


def _preprocessed(backbone, rgb, flow, flow_modality):
    """The 0..255 RGB and flow inputs normalised, and in training flipped together (one choice per clip)."""
    return FramePreprocessing(backbone, ("rgb", flow_modality), name="preprocessing")([rgb, flow])


@gin.configurable
def build_attention_fusion_model(
    backbone="tiny",
    num_classes=101,
    num_scales=3,
    flow_modality="flow",
    project_flow=False,
    multi_label=False,
    dropout=0.5,
    weights=None,
    input_size=None,
    backbone_kwargs=None,
    attention_kwargs=None,
):
    """Two-stream model whose streams meet in one pyramid attention layer (SPEC §6).

    Both backbones run on their B·K frames; at each of the top ``num_scales``
    levels the RGB maps ``[B, K, H_j, W_j, C_j]`` and the flow maps are joined
    along the frame axis into ``[B, 2K, H_j, W_j, C_j]`` (RGB frames first),
    which enter one :class:`~iastp_tf.layers.PyramidAttention`. Its output
    ``[B, H, W, C_top]`` goes through the rest of the RGB backbone, dropout and
    the classifier.

    Args:
      backbone: registry name of both streams' backbones.
      num_classes: classifier width.
      num_scales: how many of the backbone's top taps enter the attention.
      flow_modality: key of the flow frames in the inputs, ``"flow"`` or
        ``"flow_mc"``.
      project_flow: add a 1×1 projection (``Dense`` over channels, initialised
        to the identity) on the flow maps at every level. Both streams share
        one backbone, so their channel counts already match; the projection
        only lets the flow maps be re-mixed before they are joined.
      multi_label: the logits are meant for per-class sigmoids (Charades); the
        logits are the same either way, and training refuses a bound value
        that disagrees with the records' ``dataset.json``.
      dropout: rate before the classifier (the RGB stream's 0.5).
      weights: ``None``, ``"imagenet"`` or a path, for both backbones (the flow
        one gets the cross-modality initialisation of its first convolution).
      input_size: frame size S; ``None`` for the backbone's own.
      backbone_kwargs: extra arguments of the backbone builder.
      attention_kwargs: extra arguments of :class:`PyramidAttention`.

    Returns:
      ``keras.Model`` taking ``{"rgb": [B, K, S, S, 3], flow_modality:
      [B, K, S, S, 10]}`` (K free, the same K for both) and returning float32
      logits ``[B, num_classes]``.
    """
    builder = "build_attention_fusion_model"
    arguments.check_shared(builder, backbone, num_classes, num_scales, multi_label, dropout, weights, input_size,
                           backbone_kwargs, attention_kwargs, dropout_may_be_none=False)
    arguments.check_choice(builder, "flow_modality", flow_modality, FLOW_MODALITIES)
    arguments.check_bool(builder, "project_flow", project_flow)
    backbone_kwargs = backbone_kwargs or {}
    rgb_net = build_backbone(backbone, 3, input_size, weights, **backbone_kwargs)
    flow_net = build_backbone(backbone, FLOW_CHANNELS, input_size, weights, **backbone_kwargs)
    arguments.check_int(builder, "num_scales", num_scales, 1, rgb_net.max_scales, where=f" for {backbone!r}")

    size = rgb_net.input_size
    rgb = _frames_input("rgb", 3, size)
    flow = _frames_input(flow_modality, FLOW_CHANNELS, size)
    rgb_in, flow_in = _preprocessed(backbone, rgb, flow, flow_modality)
    rgb_taps = _renamed(rgb_net.trunk, "rgb_trunk")(MergeFrames(name="merge_rgb")(rgb_in))
    flow_taps = _renamed(flow_net.trunk, "flow_trunk")(MergeFrames(name="merge_flow")(flow_in))

    levels = []
    for j in range(len(rgb_taps) - num_scales, len(rgb_taps)):
        rgb_map = SplitFrames(name=f"split_rgb_{j}")(rgb_taps[j], rgb)  # [B, K, H_j, W_j, C_j]
        flow_map = SplitFrames(name=f"split_flow_{j}")(flow_taps[j], flow)
        if project_flow:
            flow_map = keras.layers.Dense(
                flow_map.shape[-1], kernel_initializer="identity", name=f"flow_projection_{j}"
            )(flow_map)
        levels.append(keras.layers.Concatenate(axis=1, name=f"join_{j}")([rgb_map, flow_map]))  # [B, 2K, H_j, W_j, C_j]

    head = _renamed(rgb_net.head, "rgb_head")
    logits = stream_logits(levels, rgb, head, num_classes, dropout, "pyramid", attention_kwargs)
    model = keras.Model({"rgb": rgb, flow_modality: flow}, logits, name=f"{backbone}_attention_fusion")
    return model


@gin.configurable
def build_motion_reinforced_model(
    backbone="tiny",
    num_classes=101,
    num_scales=3,
    attention="pyramid",
    reinforced_level=-2,
    flow_modality="flow",
    multi_label=False,
    dropout=0.5,
    weights=None,
    input_size=None,
    backbone_kwargs=None,
    attention_kwargs=None,
):
    """RGB stream whose features at one tap are gated by the flow stream (SPEC §6).

    The flow trunk, cut at tap ``reinforced_level``, gives flow features
    ``[B·K, H, W, C']`` there; a :class:`MotionGate` turns them into a spatial
    map ``sigmoid(1×1 conv)`` ``[B·K, H, W, 1]`` that multiplies the RGB
    features at the same tap. The RGB trunk then goes on from the gated map, so
    every higher tap carries the reinforcement, and ends as a stream model
    does: ``attention`` over its top ``num_scales`` taps, the rest of the
    backbone, dropout and the classifier (with ``"none"``, per-frame logits
    averaged over the K frames).

    The model outputs the RGB stream's logits only: the flow branch is the
    gate's motion encoder, trained end to end through the gate. Table 11's row
    fuses these scores with separately trained flow and motion-compensated
    flow streams (``fuse.py``), so training, evaluation and fusion stay as for
    any one-output model.

    Args:
      backbone: registry name of both streams' backbones.
      num_classes: classifier width.
      num_scales: how many top taps enter the attention; 0 means none.
      attention: ``"pyramid"``, ``"conv1x1"`` or ``"none"`` (TSN consensus).
      reinforced_level: index of the gated tap in the backbone's tap list,
        lowest first; the default ``-2`` (the level below the top: IRV2's
        block17_20, 17×17) lets the reinforcement run through the top stage
        as well as enter the pyramid; ``-1`` gates the top tap only.
      flow_modality: key of the flow frames in the inputs, ``"flow"`` or
        ``"flow_mc"``.
      multi_label: the logits are meant for per-class sigmoids (Charades); the
        logits are the same either way, and training refuses a bound value
        that disagrees with the records' ``dataset.json``.
      dropout: rate before the classifier (the RGB stream's 0.5).
      weights: ``None``, ``"imagenet"`` or a path, for both backbones.
      input_size: frame size S; ``None`` for the backbone's own.
      backbone_kwargs: extra arguments of the backbone builder.
      attention_kwargs: extra arguments of the attention layer.

    Returns:
      ``keras.Model`` taking ``{"rgb": [B, K, S, S, 3], flow_modality:
      [B, K, S, S, 10]}`` (K free) and returning float32 logits
      ``[B, num_classes]``.
    """
    builder = "build_motion_reinforced_model"
    arguments.check_shared(builder, backbone, num_classes, num_scales, multi_label, dropout, weights, input_size,
                           backbone_kwargs, attention_kwargs, dropout_may_be_none=False)
    arguments.check_choice(builder, "flow_modality", flow_modality, FLOW_MODALITIES)
    arguments.check_choice(builder, "attention", attention, ATTENTIONS)
    backbone_kwargs = backbone_kwargs or {}
    rgb_net = build_backbone(backbone, 3, input_size, weights, **backbone_kwargs)
    flow_net = build_backbone(backbone, FLOW_CHANNELS, input_size, weights, **backbone_kwargs)
    use_attention = attention != "none" and num_scales > 0
    num_taps = rgb_net.max_scales
    if use_attention:
        arguments.check_int(builder, "num_scales", num_scales, 0, num_taps, where=f" for {backbone!r}")
    arguments.check_int(builder, "reinforced_level", reinforced_level, -num_taps, num_taps - 1,
                        where=f" (an index into the {num_taps} taps of {backbone!r})")
    level = reinforced_level % num_taps

    size = rgb_net.input_size
    rgb = _frames_input("rgb", 3, size)
    flow = _frames_input(flow_modality, FLOW_CHANNELS, size)
    # The trunks are chains through their taps, so each splits at a tap: the
    # RGB one into the part up to the gated tap and the part after it, the
    # flow one is cut there (its higher layers are not needed).
    rgb_tap_tensors = rgb_net.trunk.outputs
    rgb_lower = keras.Model(rgb_net.trunk.inputs, rgb_tap_tensors[: level + 1], name="rgb_trunk")
    flow_lower = keras.Model(flow_net.trunk.inputs, flow_net.trunk.outputs[level], name="flow_trunk")

    rgb_in, flow_in = _preprocessed(backbone, rgb, flow, flow_modality)
    taps = list(rgb_lower(MergeFrames(name="merge_rgb")(rgb_in)))  # each [B·K, H_j, W_j, C_j]
    flow_features = flow_lower(MergeFrames(name="merge_flow")(flow_in))  # [B·K, H, W, C']
    taps[level] = MotionGate(name="motion_gate")([taps[level], flow_features])
    if level + 1 < num_taps:
        rgb_upper = keras.Model(rgb_tap_tensors[level], rgb_tap_tensors[level + 1 :], name="rgb_trunk_upper")
        taps += list(rgb_upper(taps[level]))

    head = _renamed(rgb_net.head, "rgb_head")
    if use_attention:
        features = [
            SplitFrames(name=f"split_rgb_{j}")(taps[j], rgb)  # [B, K, H_j, W_j, C_j]
            for j in range(num_taps - num_scales, num_taps)
        ]
    else:
        features = taps[-1]  # [B·K, H, W, C_top]
    logits = stream_logits(
        features, rgb, head, num_classes, dropout, attention if use_attention else "none", attention_kwargs
    )
    model = keras.Model({"rgb": rgb, flow_modality: flow}, logits, name=f"{backbone}_motion_reinforced")
    return model
