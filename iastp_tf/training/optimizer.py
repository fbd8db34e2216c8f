"""Optimiser and loss of eq. 12 / eq. 16 (paper §4-5, SPEC §5).

``L = CE + β L_inter + γ L_attn + λ Σ w²``: the cross-entropy of the one
aggregated prediction per video (softmax, or per-class sigmoid for the
multi-label Charades), the attention layer's terms (added by the layer with
``add_loss``, so they arrive in ``model.losses``), and L2 weight decay with
λ = 4e-5 on every kernel (convolution, dense and attention kernels; biases and
batch-norm parameters are left alone). SGD with momentum 0.9.
"""

import gin
import keras
import tensorflow as tf

WEIGHT_DECAY = 4e-5


OPTIMIZERS = ("sgd", "adam")


@gin.configurable
def make_optimizer(learning_rate, momentum=0.9, mixed_precision=None, name="sgd") -> keras.optimizers.Optimizer:
    """SGD with momentum (the paper's); wrapped for loss scaling under ``"mixed_float16"``.

    Args:
      learning_rate: float or schedule.
      momentum: the paper's 0.9.
      mixed_precision: ``None``, ``"mixed_float16"`` or ``"mixed_bfloat16"``
        (only float16 needs loss scaling).
      name: ``"sgd"`` (paper), or ``"adam"`` for the toy demo's tiny backbone,
        which has no normalisation layers and barely moves under SGD on the
        small-valued flow input.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"name must be one of {OPTIMIZERS}, got {name!r}")
    if name == "adam":
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    else:
        optimizer = keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum)
    if mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def decayed_variables(model) -> list:
    """The trainable kernels that carry weight decay (names containing ``kernel``)."""
    return [v for v in model.trainable_variables if "kernel" in v.name]


def weight_decay_loss(model, weight_decay=WEIGHT_DECAY):
    """``λ Σ w²`` over :func:`decayed_variables` (a float32 scalar)."""
    variables = decayed_variables(model)
    if not variables or not weight_decay:
        return tf.zeros((), tf.float32)
    return weight_decay * tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in variables])


def classification_loss(labels, logits, multi_label=False):
    """Per-video loss ``[B]``: softmax CE on int labels, or mean per-class sigmoid CE on multi-hot."""
    logits = tf.cast(logits, tf.float32)
    if multi_label:
        per_class = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(labels, tf.float32), logits=logits)
        return tf.reduce_mean(per_class, axis=-1)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.int32), logits=logits)
