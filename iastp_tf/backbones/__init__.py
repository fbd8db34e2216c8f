"""Backbone registry (SPEC §3): one name -> a :class:`Backbone` split at its top tap."""

import importlib

from iastp_tf.backbones.base import Backbone

# Each module defines ``build(channels, input_size, weights, **kwargs) -> Backbone``.
_MODULES = {
    "tiny": "iastp_tf.backbones.tiny",
    "vgg16": "iastp_tf.backbones.vgg16",
    "bn_inception": "iastp_tf.backbones.bn_inception",
    "inception_resnet_v2": "iastp_tf.backbones.inception_resnet_v2",
    "resnet50": "iastp_tf.backbones.resnet50",
    "resnet50_tsm": "iastp_tf.backbones.resnet50_tsm",
}

BACKBONES = tuple(_MODULES)


def build_backbone(name, channels=3, input_size=None, weights=None, **kwargs) -> Backbone:
    """Builds backbone ``name`` for ``channels`` input channels (3 RGB, 10 flow).

    Args:
      name: one of :data:`BACKBONES`.
      channels: input channels of each frame.
      input_size: spatial size S of the square input; ``None`` for the
        backbone's own (224, or 299 for Inception-ResNet-V2).
      weights: ``None`` (random), ``"imagenet"`` (standard Keras download), or a
        path to a weights file.
      **kwargs: backbone-specific options (e.g. ``num_segments`` for TSM).
    """
    if name not in _MODULES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {name!r}")
    module = importlib.import_module(_MODULES[name])
    return module.build(channels=channels, input_size=input_size, weights=weights, **kwargs)


__all__ = ["BACKBONES", "Backbone", "build_backbone"]
