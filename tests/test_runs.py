"""iastp_tf.runs: what a workdir holds and the checks made against it."""

import os

import pytest

from iastp_tf import runs

_CONFIG = """# Macros:
# ==============================================================================
NUM = 4

# Parameters for build_stream_model:
# ==============================================================================
build_stream_model.attention_kwargs = \\
    {'fusion': 'sum', 'interaction_weight': 0.0001}
build_stream_model.backbone = 'tiny'
build_stream_model.num_classes = %NUM
build_stream_model.weights = '/old/path.h5'

# Parameters for train/make_dataset:
# ==============================================================================
make_dataset.input_size = 64
train/make_dataset.input_size = 32
train.model_fn = @build_stream_model
"""


def test_parse_bindings_resolves_macros_wrapped_values_and_scopes():
    bindings = runs.parse_bindings(_CONFIG)
    stream = runs.configurable_bindings(bindings, "build_stream_model")
    assert stream == {
        "attention_kwargs": {"fusion": "sum", "interaction_weight": 0.0001},
        "backbone": "tiny",
        "num_classes": 4,
        "weights": "/old/path.h5",
    }
    assert runs.configurable_bindings(bindings, "make_dataset") == {"input_size": 64}
    assert runs.configurable_bindings(bindings, "make_dataset", scope="train") == {"input_size": 32}
    assert bindings["train.model_fn"] == "@build_stream_model"


def test_check_same_model_names_each_differing_binding_and_ignores_initial_weights(tmp_path):
    runs.check_same_model(str(tmp_path), _CONFIG, "build_stream_model")  # nothing saved yet
    runs.write_operative_config(str(tmp_path), _CONFIG)
    moved = _CONFIG.replace("/old/path.h5", "/new/path.h5")
    runs.check_same_model(str(tmp_path), moved, "build_stream_model")
    other = moved.replace("NUM = 4", "NUM = 5").replace("'sum'", "'max'")
    with pytest.raises(ValueError) as error:
        runs.check_same_model(str(tmp_path), other, "build_stream_model")
    assert "build_stream_model.num_classes: 4 in the workdir, 5 now" in str(error.value)
    assert "build_stream_model.attention_kwargs" in str(error.value)
    assert "weights" not in str(error.value).replace("interaction_weight", "")


def test_check_class_names():
    run = {"class_names": ["a", "b", "c"]}
    runs.check_class_names(run, {"class_names": ["a", "b", "c"]}, "d")
    with pytest.raises(ValueError, match="class 1 is 'b' in training but 'x' in 'd'"):
        runs.check_class_names(run, {"class_names": ["a", "x", "c"]}, "d")
    with pytest.raises(ValueError, match="3 classes in training, 2 in 'd'"):
        runs.check_class_names(run, {"class_names": ["a", "b"]}, "d")


def test_weights_path_defaults_to_the_final_weights(tmp_path):
    with pytest.raises(ValueError, match="last.weights.h5 is missing"):
        runs.weights_path(str(tmp_path))
    for name in ("last", "best"):
        (tmp_path / f"{name}.weights.h5").write_bytes(b"")
    assert runs.weights_path(str(tmp_path)) == os.path.join(tmp_path, "last.weights.h5")
    assert runs.weights_path(str(tmp_path), "best") == os.path.join(tmp_path, "best.weights.h5")
    with pytest.raises(ValueError, match="checkpoint must be one of"):
        runs.weights_path(str(tmp_path), "nope")
