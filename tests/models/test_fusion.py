"""Fusion modes of Table 11 (SPEC §6): attention fusion and motion reinforcement."""

import functools
import importlib
import pathlib

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.data.pipeline import make_dataset
from iastp_tf.data.prepare.synthetic import write_synthetic_dataset
from iastp_tf.evaluation.evaluate import evaluate
from iastp_tf.models import build_stream_model
from iastp_tf.layers import MotionGate
from iastp_tf.models.fusion import build_attention_fusion_model, build_motion_reinforced_model
from iastp_tf.training.train import train

SIZE = 32  # tiny backbone taps: 8x8x24, 4x4x32, 2x2x48
CLASSES = 4


def random_inputs(batch=2, frames=3, seed=0, flow_key="flow"):
    """0..255 frames, as the input pipeline gives them."""
    rng = np.random.default_rng(seed)
    return {
        "rgb": rng.uniform(0, 255, (batch, frames, SIZE, SIZE, 3)).astype("float32"),
        flow_key: rng.uniform(0, 255, (batch, frames, SIZE, SIZE, 10)).astype("float32"),
    }


def outputs_of(model, layer_names, inputs):
    """Outputs of the named top-level layers of ``model`` for ``inputs``."""
    probe = keras.Model(model.inputs, [model.get_layer(name).output for name in layer_names])
    outputs = probe(inputs)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [np.asarray(y, dtype="float64") for y in outputs]


def sublayers(model, skip=()):
    """Every leaf layer of ``model`` by name, nested models opened except those in ``skip``."""
    found = {}
    for layer in model.layers:
        if layer.name in skip:
            continue
        if isinstance(layer, keras.Model):
            found.update(sublayers(layer))
        else:
            found[layer.name] = layer
    return found


# --- NumPy reference of the attention fusion's end (SPEC §2 steps 1-6, tiny head) ---


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_pyramid_attention(levels, kernels, biases):
    """Product fusion, max down-sampling with even bins. levels: [B, K, H_j, W_j, C_j] -> M [B, H, W, C]."""
    batch, frames, h, w, c_top = levels[-1].shape
    fused = 1.0
    for x, kernel, bias in zip(levels, kernels, biases):
        hj, wj, cj = x.shape[2:]
        pooled = x.reshape(batch, frames, h, hj // h, w, wj // w, cj).max(axis=(3, 5))
        fused = fused * (pooled.reshape(batch, frames * h * w, cj) @ kernel + bias)
    a = np_softmax(fused, axis=1)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)  # [B, K*H*W, H*W]
    m = np.transpose(a, (0, 2, 1)) @ levels[-1].reshape(batch, frames * h * w, c_top)
    return m.reshape(batch, h, w, c_top)


def np_tiny_head_logits(m, classifier):
    kernel, bias = classifier.get_weights()
    return np.maximum(m, 0).mean(axis=(1, 2)) @ kernel + bias  # ReLU, global average pool, classifier


@pytest.mark.parametrize(
    "case", ["zero flow", "zero flow, identity projection", "random flow, random projection"]
)
def test_attention_fusion_is_pyramid_attention_over_rgb_and_flow_frames(case):
    # M does not depend on the order of the 2K frames (A's rows permute with
    # them), so this checks which frames are joined, not their order.
    project = "projection" in case
    model = build_attention_fusion_model("tiny", CLASSES, num_scales=3, input_size=SIZE, project_flow=project)
    attention = model.get_layer("pyramid_attention")
    rng = np.random.default_rng(1)
    # Spread the scores so the softmax is far from uniform.
    attention.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in attention.get_weights()])
    inputs = random_inputs()
    levels = range(3)
    if case.startswith("zero"):
        inputs["flow"] = np.full_like(inputs["flow"], 127.5)  # 0 after tiny's x / 127.5 - 1
        # Zero flow frames give zero flow maps only without conv biases.
        for layer in sublayers(model.get_layer("flow_trunk")).values():
            if isinstance(layer, keras.layers.Conv2D):
                layer.bias.assign(np.zeros(layer.bias.shape, "float32"))
    projections = []
    for j in levels if project else ():
        dense = model.get_layer(f"flow_projection_{j}")
        channels = dense.kernel.shape[0]
        if case.startswith("zero"):
            np.testing.assert_array_equal(dense.kernel.numpy(), np.eye(channels))  # identity initialiser
            projections.append((np.eye(channels), np.zeros(channels)))
        else:
            kernel = rng.normal(0, 0.3, (channels, channels))
            bias = rng.normal(0, 0.3, channels)
            dense.set_weights([kernel.astype("float32"), bias.astype("float32")])
            projections.append((kernel, bias))

    rgb_maps = outputs_of(model, [f"split_rgb_{j}" for j in levels], inputs)  # each [B, K, H_j, W_j, C_j]
    if case.startswith("zero"):
        flow_maps = [np.zeros_like(x) for x in rgb_maps]  # the formula: K RGB frames plus K zero frames
    else:
        flow_maps = outputs_of(model, [f"split_flow_{j}" for j in levels], inputs)
        flow_maps = [x @ kernel + bias for x, (kernel, bias) in zip(flow_maps, projections)]
    joined = [np.concatenate([r, f], axis=1) for r, f in zip(rgb_maps, flow_maps)]  # [B, 2K, ...]
    weights = attention.get_weights()
    expected_m = np_pyramid_attention(joined, weights[0::2], weights[1::2])
    expected_logits = np_tiny_head_logits(expected_m, model.get_layer("classifier"))

    (m,) = outputs_of(model, ["pyramid_attention"], inputs)
    np.testing.assert_allclose(m, expected_m, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model(inputs), expected_logits, rtol=1e-4, atol=1e-5)


def test_motion_gate_matches_formula():
    rng = np.random.default_rng(0)
    rgb = rng.standard_normal((2, 3, 4, 4, 6)).astype("float32")
    flow = rng.standard_normal((2, 3, 4, 4, 5)).astype("float32")
    kernel = rng.standard_normal((5, 1))
    gate = MotionGate(kernel_initializer=keras.initializers.Constant(kernel), bias_initializer="ones")
    expected = rgb * (1.0 / (1.0 + np.exp(-(flow @ kernel + 1.0))))
    np.testing.assert_allclose(gate([rgb, flow]), expected, rtol=1e-5, atol=1e-6)


def test_motion_gate_of_all_ones_leaves_rgb_unchanged():
    rng = np.random.default_rng(0)
    rgb = rng.standard_normal((6, 4, 4, 8)).astype("float32") * 10
    flow = rng.standard_normal((6, 4, 4, 10)).astype("float32") * 10
    gate = MotionGate(kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(30.0), return_gate=True)
    gated, gate_map = gate([rgb, flow])
    assert gate_map.shape == (6, 4, 4, 1)
    np.testing.assert_allclose(gated, rgb, rtol=1e-6, atol=1e-6)


def test_motion_gate_config_round_trip_and_mixed_precision():
    # (tests.layer_checks.check_layer frees the axis after the batch and flattens
    # the output, which a gate over [B, K, H, W, C] keeps free; checked here.)
    rng = np.random.default_rng(0)
    data = [rng.standard_normal((2, 3, 4, 4, 6)).astype("float32"), rng.standard_normal((2, 3, 4, 4, 10)).astype("float32")]
    gate = MotionGate(bias_initializer="ones", kernel_regularizer="l2", return_gate=True)
    clone = MotionGate.from_config(gate.get_config())
    assert clone.get_config() == gate.get_config()
    outputs = gate(data)
    clone(data)
    clone.set_weights(gate.get_weights())
    for a, b in zip(outputs, clone(data)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    symbolic = gate([keras.Input((None, 4, 4, 6)), keras.Input((None, 4, 4, 10))])
    assert [tuple(y.shape) for y in symbolic] == [(None, None, 4, 4, 6), (None, None, 4, 4, 1)]
    keras.config.set_dtype_policy("mixed_float16")
    mixed = MotionGate()
    gated = mixed(data[:1] + data[1:])
    assert gated.dtype == "float16" and mixed.kernel.dtype == "float32"


@pytest.mark.parametrize("attention, level", [("none", 0), ("pyramid", 0), ("pyramid", -1), ("conv1x1", 1)])
def test_motion_reinforcement_with_open_gate_is_the_rgb_stream(attention, level):
    """With the gate at all ones the model computes the plain RGB stream model."""
    reinforced = build_motion_reinforced_model(
        "tiny", CLASSES, num_scales=2, attention=attention, reinforced_level=level, input_size=SIZE
    )
    gate = reinforced.get_layer("motion_gate")
    gate.set_weights([np.zeros(gate.kernel.shape, "float32"), np.full((1,), 30.0, "float32")])
    stream = build_stream_model("tiny", "rgb", CLASSES, num_scales=2, attention=attention, input_size=SIZE)
    rgb_layers = sublayers(reinforced, skip=("flow_trunk",))
    copied = 0
    for name, layer in sublayers(stream).items():
        if layer.weights:
            layer.set_weights(rgb_layers[name].get_weights())
            copied += 1
    assert copied == 4 + 1 + (attention != "none")  # four convs, the classifier, the attention layer
    inputs = random_inputs(frames=4)
    np.testing.assert_allclose(reinforced(inputs), stream(inputs["rgb"]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("attention", ["pyramid", "none"])
def test_motion_reinforcement_output_depends_on_flow(attention):
    model = build_motion_reinforced_model("tiny", CLASSES, attention=attention, input_size=SIZE)
    inputs = random_inputs()
    moved = dict(inputs, flow=255.0 - inputs["flow"])
    assert np.abs(np.asarray(model(inputs)) - np.asarray(model(moved))).max() > 1e-4


BUILDERS = {
    "attention_fusion": lambda **kw: build_attention_fusion_model("tiny", CLASSES, input_size=SIZE, **kw),
    "motion_reinforced": lambda **kw: build_motion_reinforced_model(
        "tiny", CLASSES, input_size=SIZE, reinforced_level=0, **kw
    ),
}


@pytest.mark.parametrize("mode", sorted(BUILDERS))
@pytest.mark.parametrize("flow_key", ["flow", "flow_mc"])
def test_fusion_trains_end_to_end_saves_and_exports(mode, flow_key, tmp_path):
    model = BUILDERS[mode](flow_modality=flow_key)
    assert sorted(model.input) == sorted(["rgb", flow_key])
    flow_trunk = model.get_layer("flow_trunk")
    flow_before = [w.numpy().copy() for w in flow_trunk.trainable_weights]
    model.compile(keras.optimizers.SGD(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    inputs = random_inputs(batch=4, flow_key=flow_key)
    history = model.fit(inputs, np.arange(4) % CLASSES, batch_size=2, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    # Both streams learn: the flow trunk only gets gradients through the fusion.
    assert all(np.abs(w.numpy() - b).max() > 0 for w, b in zip(flow_trunk.trainable_weights, flow_before))

    test_inputs = random_inputs(batch=2, frames=5, seed=3, flow_key=flow_key)  # K differs from training
    expected = np.asarray(model(test_inputs))
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(reloaded(test_inputs), expected, rtol=1e-5, atol=1e-6)
    model.export(str(tmp_path / "saved_model"), verbose=False)
    exported = tf.saved_model.load(str(tmp_path / "saved_model"))  # kept: its variables live in it
    np.testing.assert_allclose(exported.serve(test_inputs), expected, rtol=1e-5, atol=1e-6)


def test_builders_are_gin_configurable():
    with gin.unlock_config():
        gin.parse_config(
            [
                "build_motion_reinforced_model.reinforced_level = 1",
                "build_motion_reinforced_model.attention = 'none'",
                "build_attention_fusion_model.project_flow = True",
            ]
        )
    try:
        reinforced = build_motion_reinforced_model("tiny", CLASSES, input_size=SIZE)
        fused = build_attention_fusion_model("tiny", CLASSES, input_size=SIZE)
    finally:
        gin.clear_config()
    assert reinforced.get_layer("motion_gate").kernel.shape == (32, 1)  # the middle tap has 32 channels
    assert "consensus" in [layer.name for layer in reinforced.layers]
    assert "flow_projection_2" in [layer.name for layer in fused.layers]


@pytest.mark.parametrize(
    "builder, kwargs, argument",
    [
        (build_attention_fusion_model, {"num_scales": 4}, "num_scales"),
        (build_attention_fusion_model, {"flow_modality": "rgb"}, "flow_modality"),
        (build_attention_fusion_model, {"num_classes": 0}, "num_classes"),
        (build_motion_reinforced_model, {"reinforced_level": 3}, "reinforced_level"),
        (build_motion_reinforced_model, {"attention": "lstm"}, "attention"),
        (build_motion_reinforced_model, {"flow_modality": "flow_x"}, "flow_modality"),
    ],
)
def test_bad_arguments_raise(builder, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        builder("tiny", **{"num_classes": CLASSES, "input_size": SIZE, **kwargs})


@pytest.mark.parametrize(
    "builder, kwargs, message",
    [
        (build_attention_fusion_model, {"num_scales": "a"},
         "num_scales must be an int in 0..4 (gin: NUM_SCALES / build_attention_fusion_model.num_scales), got 'a'"),
        (build_attention_fusion_model, {"num_scales": 0},
         "num_scales must be an int in 1..3 for 'tiny' (gin: NUM_SCALES / build_attention_fusion_model.num_scales)"),
        (build_attention_fusion_model, {"project_flow": "no"},
         "project_flow must be True or False (gin: build_attention_fusion_model.project_flow), got 'no'"),
        (build_motion_reinforced_model, {"reinforced_level": "top"},
         "reinforced_level must be an int in -3..2 (an index into the 3 taps of 'tiny')"),
        (build_motion_reinforced_model, {"dropout": None},
         "dropout must be a number in [0, 1) (gin: build_motion_reinforced_model.dropout), got None"),
        (build_motion_reinforced_model, {"weights": 3},
         "weights must be None, 'imagenet' or a path (gin: WEIGHTS / build_motion_reinforced_model.weights)"),
    ],
)
def test_bad_settings_name_their_gin_setting(builder, kwargs, message):
    """Issue 12, row 14, for the fusion builders."""
    with pytest.raises(ValueError) as error:
        builder("tiny", **{"num_classes": CLASSES, "input_size": SIZE, **kwargs})
    assert message in str(error.value)


def test_zero_scales_means_no_attention_as_in_the_stream_model():
    model = build_motion_reinforced_model("tiny", CLASSES, num_scales=0, attention="pyramid", input_size=SIZE)
    names = [layer.name for layer in model.layers]
    assert "consensus" in names and "pyramid_attention" not in names


# --- The Table 11 gin files select these models (SPEC §6: each mode has a gin file) ---

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def parse_table11(name, bindings=()):
    # The modules whose configurables the files (and the base they include) bind.
    for module in GIN_MODULES:
        importlib.import_module(module)
    gin.clear_config()
    gin.add_config_file_search_path(str(REPO_ROOT))
    gin.parse_config_files_and_bindings(
        [str(REPO_ROOT / "gin" / "ucf101" / f"table11_{name}.gin")],
        ["BACKBONE = 'tiny'", "WEIGHTS = None", "NUM_CLASSES = 5", *bindings],
    )


GIN_MODULES = (
    "iastp_tf.data.pipeline",
    "iastp_tf.evaluation.evaluate",
    "iastp_tf.evaluation.export",
    "iastp_tf.evaluation.fusion",
    "iastp_tf.training.train",
)


@pytest.mark.parametrize(
    "name, builder, inputs",
    [
        ("attention_fusion", build_attention_fusion_model, {"rgb": 3, "flow": 10}),
        ("motion_reinforced", build_motion_reinforced_model, {"rgb": 3, "flow": 10}),
        ("motion_compensated", build_stream_model, 10),
    ],
)
def test_table11_gin_files_build_their_models(name, builder, inputs):
    try:
        parse_table11(name)
        for program in ("train", "evaluate", "export"):
            assert gin.query_parameter(f"{program}.model_fn").selector.endswith(builder.__name__)
        modality = gin.query_parameter("make_dataset.modality")
        if isinstance(inputs, int):
            modality = gin.query_parameter("%MODALITY")
        model = builder()
    finally:
        gin.clear_config()
    if isinstance(inputs, int):
        assert modality == "flow_mc" and model.input.shape[-1] == inputs
    else:
        assert modality == ("rgb", "flow")
        assert {key: tensor.shape[-1] for key, tensor in model.input.items()} == inputs
    assert model.output.shape == (None, 5)


@pytest.mark.parametrize("name, streams", [("late_fusion", 2), ("motion_compensated", 3), ("motion_reinforced", 3)])
def test_table11_gin_files_fuse_their_streams(name, streams):
    try:
        parse_table11(name)
        files = gin.query_parameter("fuse.score_files")
        weights = gin.query_parameter("fuse.weights")
    finally:
        gin.clear_config()
    assert len(files) == len(weights) == streams
    assert weights[0] == 1.0 and sum(weights[1:]) == 1.5  # RGB 1 : motion 1.5 (TSN)


@pytest.mark.slow
@pytest.mark.parametrize(
    "builder, flow_key", [(build_attention_fusion_model, "flow"), (build_motion_reinforced_model, "flow_mc")]
)
def test_fusion_models_run_through_the_train_and_evaluate_entries(builder, flow_key, tmp_path):
    """Records -> make_dataset(("rgb", flow_key)) dict clips -> train -> evaluate over views -> scores."""
    info = write_synthetic_dataset(str(tmp_path / "records"), num_classes=4, size=SIZE, with_flow_mc=True)
    data_dir = str(tmp_path / "records")
    model_fn = functools.partial(builder, "tiny", 4, input_size=SIZE, flow_modality=flow_key, dropout=0.0)
    dataset_fn = functools.partial(make_dataset, modality=("rgb", flow_key), backbone="tiny", input_size=SIZE)
    workdir = str(tmp_path / "run")
    logs = train(workdir, data_dir, model_fn, dataset_fn, batch_size=4, total_steps=4, checkpoint_every=2, verbose=0)
    assert np.isfinite(logs["loss"])
    summary = evaluate(workdir, data_dir, model_fn, dataset_fn, checkpoint="last", batch_size=2)
    scores = np.load(tmp_path / "run" / "eval_test" / "scores.npz")
    assert scores["scores"].shape == (info["splits"]["test"], 4)
    assert 0.0 <= summary["top1"] <= 1.0
