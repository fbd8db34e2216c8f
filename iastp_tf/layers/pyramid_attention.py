"""Interaction-aware spatio-temporal pyramid attention (paper §3, SPEC §2).

Joins the feature maps of K frames taken at N backbone depths into one map of
the top level's size:

1. R (eq. 1): every lower level is down-sampled to the top's H×W.
2. Scores (eqs. 2, 13): ``Y_j = X_j W_j + b_j`` with ``X_j`` ``[K·H·W, C_j]``
   (position ``p = t·H·W + h·W + w``), ``W_j`` ``[C_j, H·W]``, ``b_j`` ``[H·W]``.
3. Fusion U (eq. 3) of the N score matrices, softmax over the K·H·W axis, then
   each column L2-normalised: A ``[K·H·W, H·W]``.
4. Output (eq. 4): ``M = Aᵀ X_top`` reshaped to ``[H, W, C_top]``.

and adds two losses with ``add_loss``, each a batch mean times its weight:

* interaction loss (eq. 8): ``−‖M‖²_F + ‖offdiag(AᵀA)‖²_F``;
* pyramid loss (eqs. 14, 15): ``sqrt(Σ_j Σ_m Σ_t (1 − δ²_{j,m,t}))`` with
  ``δ_{j,m,t} = ‖A[t-th frame rows, m] − softmax(Y_j)[t-th frame rows, m]‖₂``.
  Summing δ² over t and m covers every entry once, so the sum equals
  ``N·K·H·W − Σ_j ‖A − softmax(Y_j)‖²_F``, which is how it is computed.
"""

import keras
from keras import ops

from iastp_tf.layers.pooling import AdaptivePooling2D

FUSIONS = ("product", "sum", "max")
DOWNSAMPLES = ("max", "avg", "conv")


def fuse_scores(scores, fusion):
    """Fuses same-shaped score tensors element-wise (U of eq. 3)."""
    fused = scores[0]
    for score in scores[1:]:
        if fusion == "product":
            fused = fused * score
        elif fusion == "sum":
            fused = fused + score
        else:
            fused = ops.maximum(fused, score)
    return fused


def safe_sqrt(x):
    """``sqrt(max(x, 0))`` whose gradient stays finite (zero) at and below 0."""
    positive = x > 0
    return ops.where(positive, ops.sqrt(ops.where(positive, x, ops.ones_like(x))), 0.0)


def make_downsampler(level_size, top_size, channels, method, name, dtype=None):
    """The R of eq. 1 for one level: ``[N, H_j, W_j, C_j]`` -> ``[N, H, W, C_j]``.

    ``max``/``avg`` use adaptive bins (bin i covers ``floor(i·S/H)`` to
    ``ceil((i+1)·S/H)``); ``conv`` is a learned valid convolution with stride
    ``S // H`` and kernel ``S − (H − 1)·stride``, which lands exactly on H.
    ``dtype`` is the owning layer's dtype policy, so a per-layer mixed
    policy reaches the down-sampler too.
    """
    if method in ("max", "avg"):
        return AdaptivePooling2D(top_size, mode=method, name=name, dtype=dtype)
    strides = tuple(s // t for s, t in zip(level_size, top_size))
    kernel = tuple(s - (t - 1) * st for s, t, st in zip(level_size, top_size, strides))
    return keras.layers.Conv2D(channels, kernel, strides=strides, padding="valid", name=name, dtype=dtype)


def check_levels(input_shape):
    """Validates the shapes of N (1–4) levels ``[B, K, H_j, W_j, C_j]``; returns the top ``(H, W)``."""
    if not isinstance(input_shape, (list, tuple)) or not input_shape or not isinstance(
        input_shape[0], (list, tuple)
    ):
        raise ValueError(f"inputs must be a list of [B, K, H, W, C] tensors, got shape {input_shape}")
    if not 1 <= len(input_shape) <= 4:
        raise ValueError(f"inputs must hold 1 to 4 levels, got {len(input_shape)}")
    for j, shape in enumerate(input_shape):
        if len(shape) != 5 or any(d is None for d in shape[2:]):
            raise ValueError(f"level {j} must be [B, K, H, W, C] with static H, W, C; got {shape}")
    return tuple(input_shape[-1][2:4])


def make_downsamplers(input_shape, top_size, method, dtype=None):
    """R of eq. 1 for every level: a built layer, or ``None`` where the level is already H×W.

    ``dtype``: the owning layer's dtype policy (``self.dtype_policy``).
    """
    downsamplers = []
    for j, shape in enumerate(input_shape, start=1):
        size = tuple(shape[2:4])
        if size == top_size:
            downsamplers.append(None)
            continue
        if size[0] < top_size[0] or size[1] < top_size[1]:
            raise ValueError(f"level {j} ({size}) is smaller than the top level ({top_size})")
        layer = make_downsampler(size, top_size, shape[4], method, f"downsample_{j}", dtype)
        layer.build((None, *size, shape[4]))
        downsamplers.append(layer)
    return downsamplers


@keras.saving.register_keras_serializable(package="iastp_tf")
class PyramidAttention(keras.layers.Layer):
    """Interaction-aware spatio-temporal pyramid attention layer.

    Args:
      fusion: how the N levels' scores are joined (eq. 3): ``"product"``
        (element-wise, the paper's default), ``"sum"`` or ``"max"``.
      downsample: R of eq. 1 for lower levels: ``"max"`` (default), ``"avg"``
        or ``"conv"``.
      interaction_weight: β of eq. 12; 0 turns the interaction loss off.
      pyramid_weight: γ of eq. 12; 0 turns the pyramid loss off.
      kernel_initializer: initialiser of each ``kernel_j`` ``[C_j, H·W]``.
      bias_initializer: initialiser of each ``bias_j`` ``[H·W]``.
      kernel_regularizer: optional regulariser of each ``kernel_j``.
      return_attention: also return A, for visualisation.
      interaction_feature_gradient: let the ``−‖M‖²`` term of the interaction
        loss push on the features X_top directly, not only through A (off by
        default: eq. 7 optimises A, and the direct push is unbounded).

    Call args:
      inputs: list of N (1–4) tensors ``[B, K, H_j, W_j, C_j]``, lowest level
        (largest map) first and the top level last. K may be unknown until
        call time; H_j, W_j, C_j must be static.

    Returns:
      M ``[B, H, W, C_top]``, or ``(M, A)`` with A ``[B, K·H·W, H·W]`` (float32)
      when ``return_attention``.
    """

    def __init__(
        self,
        fusion="product",
        downsample="max",
        interaction_weight=1e-4,
        pyramid_weight=1e-4,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        return_attention=False,
        interaction_feature_gradient=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if downsample not in DOWNSAMPLES:
            raise ValueError(f"downsample must be one of {DOWNSAMPLES}, got {downsample!r}")
        for arg, value in (("interaction_weight", interaction_weight), ("pyramid_weight", pyramid_weight)):
            if value < 0:
                raise ValueError(f"{arg} must be >= 0, got {value}")
        self.fusion = fusion
        self.downsample = downsample
        self.interaction_weight = float(interaction_weight)
        self.pyramid_weight = float(pyramid_weight)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.return_attention = bool(return_attention)
        self.interaction_feature_gradient = bool(interaction_feature_gradient)
        # Loss values as metrics, so that `fit` logs show them (batch means).
        self.interaction_tracker = (
            keras.metrics.Mean(name=f"{self.name}_interaction_loss") if self.interaction_weight else None
        )
        self.pyramid_tracker = (
            keras.metrics.Mean(name=f"{self.name}_pyramid_loss") if self.pyramid_weight else None
        )

    def build(self, input_shape):
        self.top_size = check_levels(input_shape)
        top_h, top_w = self.top_size
        positions = top_h * top_w
        self.kernels, self.biases = [], []
        for j, shape in enumerate(input_shape, start=1):
            self.kernels.append(
                self.add_weight(
                    name=f"kernel_{j}",
                    shape=(shape[4], positions),
                    initializer=self.kernel_initializer,
                    regularizer=self.kernel_regularizer,
                )
            )
            self.biases.append(
                self.add_weight(name=f"bias_{j}", shape=(positions,), initializer=self.bias_initializer)
            )
        self.downsamplers = make_downsamplers(input_shape, self.top_size, self.downsample, self.dtype_policy)

    def call(self, inputs, training=None):
        top_h, top_w = self.top_size
        positions = top_h * top_w
        frames = ops.shape(inputs[-1])[1]
        rows = frames * positions  # K·H·W

        flat_levels, scores = [], []
        for x, kernel, bias, downsampler in zip(inputs, self.kernels, self.biases, self.downsamplers):
            h, w, c = x.shape[2:]
            x = ops.reshape(x, (-1, h, w, c))  # [B·K, H_j, W_j, C_j]
            if downsampler is not None:
                x = downsampler(x)  # [B·K, H, W, C_j]
            x = ops.reshape(x, (-1, rows, c))  # [B, K·H·W, C_j]
            flat_levels.append(x)
            y = ops.matmul(x, ops.cast(kernel, x.dtype)) + ops.cast(bias, x.dtype)  # [B, K·H·W, H·W]
            scores.append(ops.cast(y, "float32"))

        fused = fuse_scores(scores, self.fusion)  # [B, K·H·W, H·W]
        attention = ops.softmax(fused, axis=1)
        attention = attention / ops.sqrt(ops.sum(ops.square(attention), axis=1, keepdims=True))

        top = flat_levels[-1]  # [B, K·H·W, C]
        attention_t = ops.transpose(attention, (0, 2, 1))  # [B, H·W, K·H·W]
        outputs = ops.matmul(ops.cast(attention_t, top.dtype), top)  # [B, H·W, C]

        if self.interaction_weight:
            loss = ops.mean(self._interaction_loss(attention, attention_t, outputs, top))
            self.add_loss(self.interaction_weight * loss)
            self._track(self.interaction_tracker, loss, training)
        if self.pyramid_weight:
            loss = ops.mean(self._pyramid_loss(attention, scores, rows))
            self.add_loss(self.pyramid_weight * loss)
            self._track(self.pyramid_tracker, loss, training)

        outputs = ops.reshape(outputs, (-1, top_h, top_w, top.shape[-1]))  # [B, H, W, C]
        if self.return_attention:
            return outputs, attention
        return outputs

    def _interaction_loss(self, attention, attention_t, outputs, top):
        """Eq. 8 per sample: ``−‖M‖²_F + ‖offdiag(AᵀA)‖²_F`` -> ``[B]``.

        Eq. 7 optimises A for the given features (``argmin_A``, as PCA picks a
        basis for given data), so by default the energy term's gradient
        reaches X_top only through A: ``‖Aᵀ sg(X_top)‖²``. Letting it reach the
        features directly (``interaction_feature_gradient=True``) makes the
        loss unbounded below: the backbone can lower it by scaling X_top up.
        """
        if self.interaction_feature_gradient:
            energy = ops.sum(ops.square(ops.cast(outputs, "float32")), axis=(1, 2))
        else:
            fixed = ops.stop_gradient(ops.cast(top, "float32"))  # [B, K·H·W, C]
            energy = ops.sum(ops.square(ops.matmul(attention_t, fixed)), axis=(1, 2))
        gram = ops.matmul(attention_t, attention)  # [B, H·W, H·W]
        off_diagonal = 1.0 - ops.eye(gram.shape[-1], dtype="float32")
        return ops.sum(ops.square(gram) * off_diagonal, axis=(1, 2)) - energy

    @staticmethod
    def _pyramid_loss(attention, scores, pairs):
        """Eqs. 14/15 per sample -> ``[B]``; ``pairs`` counts the (m, t) pairs, K·H·W."""
        total = 0.0
        for score in scores:
            distance = ops.sum(ops.square(attention - ops.softmax(score, axis=1)), axis=(1, 2))
            total = total + ops.cast(pairs, "float32") - distance
        return safe_sqrt(total)

    @staticmethod
    def _track(tracker, value, training):
        # Only inside fit/evaluate steps: a plain call or an exported serving
        # function must not write metric state.
        if training is not None:
            tracker.update_state(value)

    def compute_output_shape(self, input_shape):
        batch = input_shape[-1][0]
        top_h, top_w, channels = input_shape[-1][2:]
        outputs = (batch, top_h, top_w, channels)
        if not self.return_attention:
            return outputs
        frames = input_shape[-1][1]
        rows = None if frames is None else frames * top_h * top_w
        return outputs, (batch, rows, top_h * top_w)

    def compute_output_spec(self, inputs, training=None):
        shapes = [tuple(x.shape) for x in inputs]
        output_shape = self.compute_output_shape(shapes)
        if not self.return_attention:
            return keras.KerasTensor(output_shape, dtype=self.compute_dtype)
        return (
            keras.KerasTensor(output_shape[0], dtype=self.compute_dtype),
            keras.KerasTensor(output_shape[1], dtype="float32"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            fusion=self.fusion,
            downsample=self.downsample,
            interaction_weight=self.interaction_weight,
            pyramid_weight=self.pyramid_weight,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            return_attention=self.return_attention,
            interaction_feature_gradient=self.interaction_feature_gradient,
        )
        return config
