"""The model's first layer: the random flip of training and the per-backbone normalisation (SPEC §4).

The input pipeline hands over clips of 0..255 values, cropped and resized;
the flip and the normalisation run here, inside the model, so that on an
accelerator they cost the host nothing (they were the largest per-clip cost
left in the pipeline, issue 14) and a model -- exported or not -- takes the
same 0..255 frames whatever its backbone expects (Keras applications'
``include_preprocessing`` habit).

* Normalisation: :func:`iastp_tf.data.normalization.normalize`, one affine
  map of each pixel's channels (channel order, scale, mean).
* Flip (training only): one random choice per clip, applied to all its K
  frames and to every modality of the clip alike (the RGB and flow frames of
  a fusion model stay aligned); a flipped flow field has its x components
  inverted, ``255 - v`` (:func:`iastp_tf.data.augmentation.flip_left_right`,
  the function that flips the test views).
  Flipped and plain clips are both computed and one is selected per clip,
  which on an accelerator is cheaper than branching.

The flips come from a Keras ``SeedGenerator`` (a variable, so the training
loop checkpoints it and a resumed run draws the same flips). Under a
``tf.distribute`` strategy they are drawn for the global batch and each
replica takes its clips' share, so one device and several flip the same
clips. The same seed draws the same flips run after run, but other ones
under XLA (``jit_compile``) than without: XLA's stateless random kernels give
other numbers for the same seed. Computed in float32 whatever the dtype
policy.
"""

import keras
import tensorflow as tf

from iastp_tf.data.augmentation import flip_left_right
from iastp_tf.data.normalization import MODALITIES, input_affine, normalize


@keras.saving.register_keras_serializable(package="iastp_tf")
class FramePreprocessing(keras.layers.Layer):
    """0..255 clips -> the backbone's input, flipped at random in training.

    Args:
      backbone: the backbone name; picks the normalisation.
      modalities: the modality of each input (``"rgb"``, ``"flow"``,
        ``"flow_mc"``), or one modality for a single input.
      seed: None or an int, the seed of the flips.

    Call arguments:
      inputs: float ``[B, K, S, S, C]`` with values 0..255 (C = 3L for RGB,
        2L for flow: x0, y0, x1, ...), or a list of them, one per modality,
        with the same B.
      training: flip at random (one choice per clip, shared by the inputs).

    Returns:
      float32 tensors of the inputs' shapes, in the same structure.
    """

    def __init__(self, backbone, modalities, seed=None, **kwargs):
        kwargs["dtype"] = "float32"  # 0..255 values lose precision in bfloat16
        super().__init__(**kwargs)
        single = isinstance(modalities, str)
        names = (modalities,) if single else tuple(modalities)
        if not names or any(m not in MODALITIES for m in names):
            raise ValueError(f"modalities must be one of {MODALITIES} or a list of them, got {modalities!r}")
        input_affine(backbone, "rgb", 3)  # checks the backbone name
        self.backbone, self.modalities, self.seed = backbone, modalities, seed
        self._names, self._single = names, single
        self.seed_generator = keras.random.SeedGenerator(seed, name="flip_seed_generator")

    def call(self, inputs, training=False):
        clips = [inputs] if self._single else list(inputs)
        if len(clips) != len(self._names):
            raise ValueError(f"{len(self._names)} modalities {self._names} but {len(clips)} inputs")
        clips = [tf.cast(clip, tf.float32) for clip in clips]
        flip = self._random_flips(tf.shape(clips[0])[0]) if training else None
        outputs = [self._preprocess(clip, modality, flip) for clip, modality in zip(clips, self._names)]
        return outputs[0] if self._single else outputs

    def _random_flips(self, batch_size):
        """bool ``[B]``, True with probability 1/2 each.

        Under a strategy, the flips are drawn for the global batch and each
        replica takes the slice of its clips (replica r holds clips r·B ...
        (r+1)·B - 1 of the global batch), so a run draws the same flips for the
        same clips on one device, several or several machines.
        """
        seed = self.seed_generator.next()
        replica = tf.distribute.get_replica_context()
        if replica is None or replica.num_replicas_in_sync == 1:
            return tf.random.stateless_uniform([batch_size], seed, alg="philox") < 0.5
        replicas, index = replica.num_replicas_in_sync, replica.replica_id_in_sync_group
        flips = tf.random.stateless_uniform([batch_size * replicas], seed, alg="philox") < 0.5
        return tf.reshape(flips, [replicas, batch_size])[index]

    def _preprocess(self, clip, modality, flip):
        """``[B, ..., S, S, C]`` 0..255 -> normalised, flipped where ``flip`` ``[B]`` is True."""
        if clip.shape[-1] is None:
            raise ValueError(f"the channels of the {modality} input must be known, got shape {clip.shape}")
        if flip is not None:
            choose = tf.reshape(flip, [-1] + [1] * (clip.shape.rank - 1))  # [B, 1, ..., 1]
            clip = tf.where(choose, flip_left_right(clip, modality), clip)
        return normalize(clip, self.backbone, modality)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "backbone": self.backbone, "modalities": self.modalities, "seed": self.seed}
