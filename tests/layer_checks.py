"""One shared check every custom layer goes through (KerasHub's habit).

``check_layer`` runs a layer through: config round trip, symbolic (functional)
and eager calls that agree, one `fit` step inside a tiny model, a `.keras`
save/load round trip, and the dtypes under a mixed-precision policy, set
globally and, separately, on the layer alone (``dtype="mixed_float16"`` with a
float32 global policy): in both every sublayer must compute in float16, which
it does only if the layer hands it ``dtype=self.dtype_policy``.
"""

import keras
import numpy as np


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _dense_head_model(layer, inputs):
    outputs = _as_list(layer(inputs))
    pooled = keras.layers.Flatten()(outputs[0])
    logits = keras.layers.Dense(2, dtype="float32")(pooled)
    return keras.Model(inputs, logits)


def _check_mixed(layer, data, sublayers):
    """float16 outputs and sublayers, float32 variables, finite outputs."""
    outputs = _as_list(layer(data))
    assert outputs[0].dtype == "float16"
    assert all(v.dtype == "float32" for v in layer.weights)
    assert all(np.isfinite(np.asarray(y, dtype="float32")).all() for y in outputs)
    inner = list(layer._flatten_layers(include_self=False))
    assert len(inner) == sublayers, [s.name for s in inner]
    assert all(s.compute_dtype == "float16" for s in inner), [(s.name, s.compute_dtype) for s in inner]


def check_layer(layer_cls, init_kwargs, input_shapes, tmp_path, batch=2, sublayers=0):
    """Runs the shared checks for ``layer_cls(**init_kwargs)``.

    Args:
      layer_cls: the layer class.
      init_kwargs: constructor arguments.
      input_shapes: list of per-input shapes without the batch axis; the layer
        is called on the list of inputs.
      tmp_path: a pytest temp dir for the saved model.
      batch: batch size of the random inputs.
      sublayers: how many sublayers the built layer has (so that the dtype
        check of sublayers cannot pass on none).
    """
    rng = np.random.default_rng(0)
    data = [rng.standard_normal((batch, *shape)).astype("float32") for shape in input_shapes]

    # Config round trip gives an equal config and a layer computing the same.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config
    eager = [np.asarray(y) for y in _as_list(layer(data))]
    clone(data)
    clone.set_weights(layer.get_weights())
    for a, b in zip(eager, _as_list(clone(data))):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-6, atol=1e-6)

    # Symbolic call: declared shapes match the eager ones (batch and K free).
    inputs = [keras.Input((None, *shape[1:])) for shape in input_shapes]
    symbolic = _as_list(layer(inputs))
    for sym, out in zip(symbolic, eager):
        assert len(sym.shape) == out.ndim
        for declared, actual in zip(sym.shape, out.shape):
            assert declared is None or declared == actual

    # One fit step in a model, then `.keras` save/load gives the same logits.
    model = _dense_head_model(layer_cls(**init_kwargs), inputs)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(data, np.arange(batch) % 2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    path = tmp_path / "layer_check.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        reloaded.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-5, atol=1e-6
    )

    # Mixed precision, a per-layer policy under a float32 global one.
    _check_mixed(layer_cls(**init_kwargs, dtype="mixed_float16"), data, sublayers)

    # Mixed precision, the global policy.
    keras.config.set_dtype_policy("mixed_float16")
    try:
        _check_mixed(layer_cls(**init_kwargs), data, sublayers)
    finally:
        keras.config.set_dtype_policy("float32")
    return layer
