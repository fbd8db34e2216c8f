"""Optimiser and loss of eq. 12 / eq. 16 (paper §4-5, SPEC §5).

``L = CE + β L_inter + γ L_attn + λ Σ w²``: the cross-entropy of the one
aggregated prediction per video (softmax, or per-class sigmoid for the
multi-label Charades), the attention layer's terms (added by the layer with
``add_loss``, so they arrive in ``model.losses``), and L2 weight decay with
λ = 4e-5 on every kernel (convolution, dense and attention kernels; biases and
batch-norm parameters are left alone). SGD with momentum 0.9.

Gradient clipping (TSN; the paper follows TSN and is silent on it): TSN clips
the global L2 norm of the gradient of the whole batch (Caffe solvers
``clip_gradients: 40`` RGB / ``20`` flow, tsn-pytorch ``--gd 20``).
:func:`clip_by_global_norm_over_replicas` does that for the gradient summed
over replicas. Keras' own ``global_clipnorm`` is not used: under a
``tf.distribute`` strategy it clips each replica's part before the sum, so N
replicas could apply up to N times the bound.
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


def clip_by_global_norm_over_replicas(gradients, clip_norm):
    """Scales every replica's gradients so that their sum over replicas has global L2 norm <= ``clip_norm``.

    Each replica holds a part of the batch's gradient (the optimizer sums the
    parts); the norm is that of the sum, and every part is scaled by the same
    factor ``min(1, clip_norm / ‖Σ_r g_r‖)``. Outside a strategy, or with one
    replica, this is ``tf.clip_by_global_norm``.

    Args:
      gradients: list of this replica's gradient tensors (``None`` entries kept).
      clip_norm: the bound (a float or scalar tensor), e.g. TSN's 20 or 40.
    """
    present = [g for g in gradients if g is not None]
    context = tf.distribute.get_replica_context()
    summed = present
    if context is not None and context.num_replicas_in_sync > 1:
        summed = context.all_reduce(tf.distribute.ReduceOp.SUM, present)
    norm = tf.linalg.global_norm([tf.cast(g, tf.float32) for g in summed])
    scale = tf.minimum(1.0, tf.cast(clip_norm, tf.float32) / tf.maximum(norm, 1e-12))
    return [None if g is None else g * tf.cast(scale, g.dtype) for g in gradients]


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
