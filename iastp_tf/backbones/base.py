"""What every backbone hands to the stream model (SPEC §3).

A backbone is split at its top tap into two Keras models:

* ``trunk``: frames ``[N, S, S, C]`` -> list of tap tensors, lowest level
  (largest map) first, top level last; each ``[N, H_j, W_j, C_j]``. It returns
  every tap the backbone offers (3, or 4 for Inception-ResNet-V2); the stream
  model uses the last ``num_scales`` of them.
* ``head``: the top tap ``[N, H, W, C_top]`` -> pooled features ``[N, D]``:
  the backbone's own layers after the top tap, unchanged (for VGG16 that
  includes fc6/fc7), with no classifier.

``trunk(x)[-1]`` fed to ``head`` reproduces the plain backbone's features.
"""

import dataclasses

import keras


@dataclasses.dataclass(frozen=True)
class Backbone:
    """A backbone split at its top tap.

    Attributes:
      name: registry name, e.g. ``"vgg16"``.
      trunk: ``keras.Model`` frames ``[N, S, S, C]`` -> taps, lowest first.
      head: ``keras.Model`` top tap ``[N, H, W, C_top]`` -> features ``[N, D]``.
      input_size: the spatial size S the backbone is meant to run at.
    """

    name: str
    trunk: keras.Model
    head: keras.Model
    input_size: int

    @property
    def max_scales(self) -> int:
        """How many taps the trunk offers (the largest usable ``num_scales``)."""
        return len(self.trunk.outputs)
