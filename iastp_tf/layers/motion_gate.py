"""Motion reinforcement's gate (Table 11, SPEC §6): flow features gate RGB features.

As in the cross-stream multiplicative connections of ST-ResNet (paper refs.
[29, 93]), a 1×1 convolution of the flow features to one channel and a sigmoid
give a spatial map that multiplies the RGB features at the same level.
"""

import keras


@keras.saving.register_keras_serializable(package="iastp_tf")
class MotionGate(keras.layers.Layer):
    """Multiplies appearance features by a spatial map computed from motion features.

    ``gate = sigmoid(flow · kernel + bias)`` with ``kernel`` ``[C_flow, 1]``
    (a 1×1 convolution to one channel), shared by all positions; the output is
    ``rgb * gate``, the gate broadcast over the RGB channels.

    Args:
      kernel_initializer: initializer of the ``[C_flow, 1]`` kernel.
      bias_initializer: initializer of the scalar bias; ``"zeros"`` starts every
        gate at 0.5.
      kernel_regularizer: optional regularizer of the kernel.
      return_gate: also return the gate ``[N, H, W, 1]`` (for visualisation).

    Call args:
      inputs: ``[rgb, flow]``: RGB features ``[..., H, W, C_rgb]`` and flow
        features ``[..., H, W, C_flow]`` with the same leading and spatial
        shape.

    Returns:
      The gated RGB features ``[..., H, W, C_rgb]``, and the gate
      ``[..., H, W, 1]`` when ``return_gate``.
    """

    def __init__(
        self,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        return_gate=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.return_gate = return_gate

    def build(self, input_shape):
        rgb_shape, flow_shape = input_shape
        if tuple(rgb_shape[-3:-1]) != tuple(flow_shape[-3:-1]):
            raise ValueError(
                "inputs must share their spatial size, got rgb "
                f"{tuple(rgb_shape)} and flow {tuple(flow_shape)}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(flow_shape[-1], 1),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.bias = self.add_weight(name="bias", shape=(1,), initializer=self.bias_initializer)

    def call(self, inputs):
        rgb, flow = inputs
        gate = keras.ops.sigmoid(keras.ops.matmul(flow, self.kernel) + self.bias)  # [..., H, W, 1]
        gated = rgb * keras.ops.cast(gate, rgb.dtype)
        if self.return_gate:
            return gated, gate
        return gated

    def compute_output_shape(self, input_shape):
        rgb_shape, _ = input_shape
        if self.return_gate:
            return tuple(rgb_shape), tuple(rgb_shape[:-1]) + (1,)
        return tuple(rgb_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            return_gate=self.return_gate,
        )
        return config
