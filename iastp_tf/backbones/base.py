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
The trunk is a chain through its taps, so :meth:`Backbone.split` can also cut
it at a lower tap, the head then running the rest of the trunk too (paper
Table 1: the attention's top level at Inception-ResNet-A or B).
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
      level_names: one name per tap, lowest first (e.g. ``"block_a"``), for
        choosing the attention's top level; empty where the backbone offers
        no choice (the top tap is then always the top level).
    """

    name: str
    trunk: keras.Model
    head: keras.Model
    input_size: int
    level_names: tuple = ()

    @property
    def max_scales(self) -> int:
        """How many taps the trunk offers (the largest usable ``num_scales``)."""
        return len(self.trunk.outputs)

    def split(self, top: int) -> tuple:
        """The backbone cut at tap ``top`` (an index into the taps, lowest first).

        Returns:
          ``(trunk, head)``: ``trunk`` maps frames ``[N, S, S, C]`` to taps
          ``0..top`` (each ``[N, H_j, W_j, C_j]``); ``head`` maps tap ``top``
          to the features ``[N, D]``, running the trunk's layers above that
          tap and then :attr:`head`. Both share this backbone's layers (and
          weights). ``top`` = the last tap gives :attr:`trunk` and
          :attr:`head` themselves.
        """
        taps = self.trunk.outputs
        if not -len(taps) <= top < len(taps):
            raise ValueError(f"top must index one of the {len(taps)} taps of {self.name!r}, got {top}")
        top %= len(taps)
        if top == len(taps) - 1:
            return self.trunk, self.head
        trunk = keras.Model(self.trunk.inputs, taps[: top + 1], name=self.trunk.name)
        head = keras.Model(taps[top], self.head(taps[-1]), name=self.head.name)
        return trunk, head
