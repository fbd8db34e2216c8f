"""The 1×1-convolution attention baseline of Table 5 (SPEC §2).

Each level j scores every position of every frame with one 1×1 convolution
shared across positions (``kernel_j`` ``[C_j, 1]``, ``bias_j`` ``[1]``). The N
levels' scores are fused as in eq. 3, then, separately at each spatial
position (h, w), a softmax over the K frames followed by L2 normalisation over
the K frames gives ``a[t, h, w]``. The output is
``Σ_t a[t, h, w] · X_top[t, h, w]``: a per-position weighted pooling of frames,
with no mixing between positions.
"""

import keras
from keras import ops

from iastp_tf.layers.pyramid_attention import DOWNSAMPLES, FUSIONS, check_levels, fuse_scores, make_downsamplers


@keras.saving.register_keras_serializable(package="iastp_tf")
class Conv1x1Attention(keras.layers.Layer):
    """Temporal attention from shared 1×1 convolution scores (Table 5 baseline).

    Args:
      fusion: ``"product"``, ``"sum"`` or ``"max"`` over the levels' scores.
      downsample: ``"max"``, ``"avg"`` or ``"conv"`` for lower levels (eq. 1).
      kernel_initializer: initialiser of each ``kernel_j`` ``[C_j, 1]``.
      bias_initializer: initialiser of each ``bias_j`` ``[1]``.
      kernel_regularizer: optional regulariser of each ``kernel_j``.
      return_attention: also return the weights ``a`` ``[B, K, H, W]`` (float32).

    Call args:
      inputs: list of N (1–4) tensors ``[B, K, H_j, W_j, C_j]``, lowest first.

    Returns:
      ``[B, H, W, C_top]``, or ``(output, a)`` when ``return_attention``.
    """

    def __init__(
        self,
        fusion="product",
        downsample="max",
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        return_attention=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if downsample not in DOWNSAMPLES:
            raise ValueError(f"downsample must be one of {DOWNSAMPLES}, got {downsample!r}")
        self.fusion = fusion
        self.downsample = downsample
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.return_attention = bool(return_attention)

    def build(self, input_shape):
        self.top_size = check_levels(input_shape)
        self.kernels, self.biases = [], []
        for j, shape in enumerate(input_shape, start=1):
            self.kernels.append(
                self.add_weight(
                    name=f"kernel_{j}",
                    shape=(shape[4], 1),
                    initializer=self.kernel_initializer,
                    regularizer=self.kernel_regularizer,
                )
            )
            self.biases.append(self.add_weight(name=f"bias_{j}", shape=(1,), initializer=self.bias_initializer))
        self.downsamplers = make_downsamplers(input_shape, self.top_size, self.downsample, self.dtype_policy)

    def call(self, inputs):
        top_h, top_w = self.top_size
        frames = ops.shape(inputs[-1])[1]
        scores, top = [], None
        for x, kernel, bias, downsampler in zip(inputs, self.kernels, self.biases, self.downsamplers):
            h, w, c = x.shape[2:]
            x = ops.reshape(x, (-1, h, w, c))  # [B·K, H_j, W_j, C_j]
            if downsampler is not None:
                x = downsampler(x)  # [B·K, H, W, C_j]
            x = ops.reshape(x, (-1, frames, top_h, top_w, c))  # [B, K, H, W, C_j]
            top = x
            y = ops.matmul(x, ops.cast(kernel, x.dtype))[..., 0] + ops.cast(bias[0], x.dtype)  # [B, K, H, W]
            scores.append(ops.cast(y, "float32"))
        weights = ops.softmax(fuse_scores(scores, self.fusion), axis=1)  # over K
        weights = weights / ops.sqrt(ops.sum(ops.square(weights), axis=1, keepdims=True))
        outputs = ops.sum(ops.cast(weights, top.dtype)[..., None] * top, axis=1)  # [B, H, W, C]
        if self.return_attention:
            return outputs, weights
        return outputs

    def compute_output_shape(self, input_shape):
        batch, frames = input_shape[-1][:2]
        outputs = (batch, *input_shape[-1][2:])
        if self.return_attention:
            return outputs, (batch, frames, *input_shape[-1][2:4])
        return outputs

    def compute_output_spec(self, inputs):
        shapes = self.compute_output_shape([tuple(x.shape) for x in inputs])
        if not self.return_attention:
            return keras.KerasTensor(shapes, dtype=self.compute_dtype)
        return keras.KerasTensor(shapes[0], dtype=self.compute_dtype), keras.KerasTensor(shapes[1], dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            fusion=self.fusion,
            downsample=self.downsample,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            return_attention=self.return_attention,
        )
        return config
