"""Shared helpers for the backbone tests."""

import keras
import numpy as np


def randomize_batch_norm(model: keras.Model, seed: int = 0) -> None:
    """Gives every BN layer non-trivial statistics and affine terms (so BN is not identity)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([
                rng.uniform(0.5, 1.5, w.shape).astype(np.float32) if "variance" in w.path or
                "gamma" in w.path else rng.normal(0, 0.1, w.shape).astype(np.float32)
                for w in layer.weights
            ])


def gray_frames(size: int, flow_channels: int, seed: int = 0):
    """Matching inputs for an RGB net and its cross-modality flow copy.

    A flow kernel is the RGB kernel's channel mean replicated, so a flow input
    with all ``flow_channels`` equal to v gives the same first-conv output as
    an RGB input with all 3 channels equal to ``v * flow_channels / 3``.

    Returns:
      ``(rgb [1, S, S, 3], flow [1, S, S, flow_channels])`` float32.
    """
    plane = np.random.default_rng(seed).normal(size=(1, size, size, 1)).astype(np.float32)
    flow = np.repeat(plane, flow_channels, axis=-1)
    rgb = np.repeat(plane * flow_channels / 3.0, 3, axis=-1)
    return rgb, flow


def saved_reference(application, size, seed, folder):
    """A randomly initialised ``keras.applications`` model (no top, average pooled,
    random batch-norm statistics) and the path of its saved weights in ``folder``."""
    keras.utils.set_random_seed(seed)
    app = application(include_top=False, weights=None, input_shape=(size, size, 3), pooling="avg")
    randomize_batch_norm(app)
    path = folder / f"{app.name}_notop.weights.h5"
    app.save_weights(path)
    return app, str(path)
