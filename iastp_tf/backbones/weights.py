"""Pretrained-weight transfer and cross-modality initialisation (SPEC §3, paper §5.1).

The flow stream starts from the RGB network (TSN's cross-modality
initialisation): the first convolution's kernel ``[kh, kw, 3, F]`` is averaged
over its 3 input channels and the mean is replicated to the flow stream's 10
channels (5 stacked (x, y) pairs). Every other weight is copied unchanged.
"""

from collections.abc import Iterable

import keras
import numpy as np


def cross_modality_kernel(rgb_kernel: np.ndarray, channels: int) -> np.ndarray:
    """Averages an RGB first-conv kernel over its input channels and replicates it.

    Args:
      rgb_kernel: ``[kh, kw, C_in, F]`` kernel of the first convolution (``C_in``
        is 3 for an RGB network).
      channels: input channels of the new network (10 for a flow stream).

    Returns:
      ``[kh, kw, channels, F]`` kernel whose every input channel equals
      ``rgb_kernel.mean(axis=2)``.
    """
    rgb_kernel = np.asarray(rgb_kernel)
    if rgb_kernel.ndim != 4:
        raise ValueError(f"rgb_kernel must be [kh, kw, C_in, F], got shape {rgb_kernel.shape}")
    if channels < 1:
        raise ValueError(f"channels must be positive, got {channels}")
    mean = rgb_kernel.mean(axis=2, keepdims=True)  # [kh, kw, 1, F]
    return np.repeat(mean, channels, axis=2)  # [kh, kw, channels, F]


def weighted_layers(*models: keras.Model) -> list:
    """The layers holding weights in ``models``, in each model's layer order."""
    return [layer for model in models for layer in model.layers if layer.weights]


def transfer_weights(pairs: Iterable[tuple]) -> None:
    """Copies weights from each source layer onto its target layer.

    A 4-D kernel that differs from its target only in the input-channel axis
    (the first convolution of an RGB network copied into a flow network) gets
    :func:`cross_modality_kernel`; any other shape difference is an error.

    Args:
      pairs: ``(source_layer, target_layer)`` tuples.

    Raises:
      ValueError: when a pair's weights do not correspond.
    """
    for source, target in pairs:
        values = source.get_weights()
        expected = [tuple(w.shape) for w in target.weights]
        if len(values) != len(expected):
            raise ValueError(
                f"layer {target.name!r} has {len(expected)} weights but its source "
                f"{source.name!r} has {len(values)}"
            )
        adapted = []
        for value, shape in zip(values, expected):
            if value.shape != shape:
                if value.ndim == 4 and value.shape[:2] + value.shape[3:] == shape[:2] + shape[3:]:
                    value = cross_modality_kernel(value, shape[2])
                else:
                    raise ValueError(
                        f"layer {target.name!r} expects a weight of shape {shape} but its "
                        f"source {source.name!r} has {value.shape}"
                    )
            adapted.append(value)
        target.set_weights(adapted)


def transfer_by_name(source: keras.Model, targets: Iterable) -> None:
    """Copies the weights of ``source``'s layers onto the same-named ``targets``."""
    transfer_weights((source.get_layer(layer.name), layer) for layer in targets)
