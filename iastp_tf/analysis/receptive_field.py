"""Receptive fields of feature-map positions (paper §5.6, Figs. 6/7; SPEC §7).

A position ``(h, w)`` of a tapped feature map describes a window of the input
frame, its receptive field. The salient-region figures draw these windows, so
they are computed from the network's own layers — kernel sizes, strides,
dilations and paddings — by walking the Keras graph from the model's input to
the tapped tensor, with the usual receptive-field arithmetic per axis:

* ``k_eff = d·(k − 1) + 1`` for kernel ``k`` and dilation ``d``;
* ``size_out = size_in + (k_eff − 1)·jump_in``;
* ``jump_out = jump_in·stride``;
* ``start_out = start_in + ((k_eff − 1)/2 − pad_before)·jump_in``,

where ``start`` is the centre of position 0 in input pixel coordinates (pixel
``i`` is centred at ``i``, as in ``matplotlib.imshow``) and ``pad_before`` is the
padding TensorFlow adds before the first row/column (``"same"``: half the total
padding, rounded down; ``"valid"``: 0; ``ZeroPadding2D``: its own). Layers that
join branches (``Add``, ``Concatenate``, ...) take the union of their inputs'
windows, which must share one jump. Layers that keep the spatial size and are
not convolutions or pools (activations, batch norm, scaling, temporal shift)
leave the field unchanged.
"""

import dataclasses
import math

import keras

_CONVOLUTIONS = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
)
_POOLS = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of every position of a feature map, per axis ``(rows, cols)``.

    Attributes:
      size: window size in input pixels.
      jump: distance in input pixels between the centres of neighbouring
        positions (the product of the strides on the way).
      start: centre of position ``(0, 0)`` in input pixel coordinates (pixel
        ``i`` is centred at ``i``); may be fractional.
    """

    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[float, float]

    def center(self, row: int, col: int) -> tuple[float, float]:
        """Centre ``(y, x)`` in input pixel coordinates of position ``(row, col)``."""
        return (self.start[0] + row * self.jump[0], self.start[1] + col * self.jump[1])

    def box(self, row: int, col: int, image_size=None) -> tuple[float, float, float, float]:
        """Window ``(top, left, bottom, right)`` of position ``(row, col)``.

        Edges are in continuous coordinates (pixel ``i`` spans ``i − ½ .. i + ½``).

        Args:
          row: position row.
          col: position column.
          image_size: optional ``(height, width)``; the box is clipped to the
            image (``−½ .. size − ½``) when given.
        """
        y, x = self.center(row, col)
        top, bottom = y - self.size[0] / 2, y + self.size[0] / 2
        left, right = x - self.size[1] / 2, x + self.size[1] / 2
        if image_size is not None:
            height, width = image_size
            top, bottom = max(top, -0.5), min(bottom, height - 0.5)
            left, right = max(left, -0.5), min(right, width - 0.5)
        return (top, left, bottom, right)


_INPUT_FIELD = ReceptiveField(size=(1, 1), jump=(1, 1), start=(0.0, 0.0))


def receptive_field(model: keras.Model, output=-1) -> ReceptiveField:
    """Receptive field of ``output`` with respect to the model's (single) input.

    Args:
      model: a functional ``keras.Model`` whose input is ``[N, S, S, C]``
        frames, e.g. a backbone's ``trunk``. Nested functional models are
        walked into.
      output: index into ``model.outputs`` (default: the last, i.e. the top
        tap), or one of the model's symbolic tensors.

    Returns:
      The :class:`ReceptiveField` of the positions of that tensor.

    Raises:
      ValueError: if ``output`` is not a tensor of the model, the path contains
        a layer that changes the spatial size in a way not covered above
        (global pooling, resizing, transposed convolution, ...), or branches
        with different jumps meet.
    """
    if not model.inputs or len(model.inputs) != 1:
        raise ValueError(f"model must have exactly one input, got {len(model.inputs or [])}")
    if isinstance(output, int):
        try:
            tensor = model.outputs[output]
        except IndexError:
            raise ValueError(
                f"output must index model.outputs ({len(model.outputs)} outputs), got {output}"
            ) from None
    else:
        tensor = output
    if not hasattr(tensor, "_keras_history"):
        raise ValueError(f"output must be a symbolic tensor of the model, got {output!r}")
    fields = {id(model.inputs[0]): _INPUT_FIELD}
    return _field_of(tensor, fields)


def _field_of(tensor, fields: dict) -> ReceptiveField:
    """Field of ``tensor``, memoised in ``fields`` (keyed by tensor id)."""
    if id(tensor) in fields:
        return fields[id(tensor)]
    operation, node_index, tensor_index = tensor._keras_history
    if operation is None or isinstance(operation, keras.layers.InputLayer):
        raise ValueError(f"tensor {tensor.name} does not depend on the model's input")
    node = operation._inbound_nodes[node_index]
    inputs = [t for t in node.input_tensors if len(t.shape) >= 4]  # [..., H, W, C]
    if isinstance(operation, keras.Model):
        field = _field_in_submodel(operation, inputs, tensor_index, fields)
    else:
        input_fields = [_field_of(t, fields) for t in inputs]
        field = _apply(operation, inputs, input_fields, tensor)
    fields[id(tensor)] = field
    return field


def _field_in_submodel(submodel, inputs, tensor_index, fields) -> ReceptiveField:
    """Field of output ``tensor_index`` of a nested functional model."""
    if len(inputs) != len(submodel.inputs):
        raise ValueError(f"cannot match the inputs of nested model {submodel.name}")
    inner = {id(i): _field_of(t, fields) for i, t in zip(submodel.inputs, inputs)}
    return _field_of(submodel.outputs[tensor_index], inner)


def _apply(operation, inputs, input_fields, output) -> ReceptiveField:
    """Field after one operation, from its inputs' fields."""
    name = getattr(operation, "name", type(operation).__name__)
    if not input_fields:
        raise ValueError(f"{name}: no spatial [..., H, W, C] input to follow")
    if isinstance(operation, _CONVOLUTIONS + _POOLS):
        (field,), (tensor,) = input_fields, inputs
        if isinstance(operation, _POOLS):
            kernel, dilation = operation.pool_size, (1, 1)
        else:
            kernel, dilation = operation.kernel_size, operation.dilation_rate
        return _windowed(field, tensor.shape[-3:-1], kernel, operation.strides, dilation,
                         operation.padding, name)
    if isinstance(operation, keras.layers.ZeroPadding2D):
        (field,) = input_fields
        (top, _), (left, _) = operation.padding
        return dataclasses.replace(
            field,
            start=(field.start[0] - top * field.jump[0], field.start[1] - left * field.jump[1]),
        )
    if isinstance(operation, keras.layers.Cropping2D):
        (field,) = input_fields
        (top, _), (left, _) = operation.cropping
        return dataclasses.replace(
            field,
            start=(field.start[0] + top * field.jump[0], field.start[1] + left * field.jump[1]),
        )
    spatial = tuple(output.shape[-3:-1]) if len(output.shape) >= 4 else None
    if any(tuple(t.shape[-3:-1]) != spatial for t in inputs):
        raise ValueError(
            f"{name} ({type(operation).__name__}) changes the spatial size from "
            f"{[tuple(t.shape[-3:-1]) for t in inputs]} to {spatial}; its receptive field "
            "is not defined here"
        )
    return _union(input_fields, name)


def _windowed(field, input_size, kernel, strides, dilation, padding, name) -> ReceptiveField:
    """Field after a convolution or pool with the given geometry."""
    sizes, jumps, starts = [], [], []
    for axis in range(2):
        effective = dilation[axis] * (kernel[axis] - 1) + 1
        if padding == "valid":
            before = 0
        elif padding == "same":
            if input_size[axis] is None:
                raise ValueError(f"{name}: 'same' padding needs a static spatial input size")
            out = math.ceil(input_size[axis] / strides[axis])
            before = max((out - 1) * strides[axis] + effective - input_size[axis], 0) // 2
        else:
            raise ValueError(f"{name}: padding {padding!r} is not supported")
        jump = field.jump[axis]
        sizes.append(field.size[axis] + (effective - 1) * jump)
        jumps.append(jump * strides[axis])
        starts.append(field.start[axis] + ((effective - 1) / 2 - before) * jump)
    return ReceptiveField(size=tuple(sizes), jump=tuple(jumps), start=tuple(starts))


def _union(fields, name) -> ReceptiveField:
    """The window covering all of ``fields`` (branches joined by Add/Concatenate/...)."""
    if len({f.jump for f in fields}) > 1:
        raise ValueError(f"{name} joins branches with different jumps {[f.jump for f in fields]}")
    sizes, starts = [], []
    for axis in range(2):
        low = min(f.start[axis] - (f.size[axis] - 1) / 2 for f in fields)
        high = max(f.start[axis] + (f.size[axis] - 1) / 2 for f in fields)
        sizes.append(int(round(high - low)) + 1)
        starts.append((low + high) / 2)
    return ReceptiveField(size=tuple(sizes), jump=fields[0].jump, start=tuple(starts))
