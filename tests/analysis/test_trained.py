"""Rebuilding a trained stream model from its workdir's run.json, without gin."""

import gin
import numpy as np
import pytest

from iastp_tf import runs
from iastp_tf.analysis.trained import load_trained_stream
from iastp_tf.models import build_stream_model

_DATASET = {"class_names": ["a", "b", "c"], "num_classes": 3, "multi_label": False}


def _write_run(workdir, model, **model_kwargs):
    info = runs.make_run_info(
        model, _DATASET, "build_stream_model", model_kwargs,
        {"backbone": "tiny", "modality": model_kwargs["modality"], "input_size": 32}, "/data/toy",
    )
    runs.write_run_info(str(workdir), info)


def test_load_trained_stream_restores_weights_and_input_settings(tmp_path):
    kwargs = dict(backbone="tiny", modality="flow", num_classes=3, num_scales=2, attention="pyramid", input_size=32)
    saved = build_stream_model(**kwargs)
    _write_run(tmp_path, saved, **kwargs)
    runs.save_weights(saved, str(tmp_path / "last.weights.h5"))
    gin.clear_config()  # nothing comes from gin
    trained = load_trained_stream(str(tmp_path))
    for mine, theirs in zip(trained.model.get_weights(), saved.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    frames = np.random.default_rng(0).normal(size=(2, 3, 32, 32, 10)).astype(np.float32)
    np.testing.assert_allclose(trained.model(frames), saved(frames), rtol=1e-6, atol=1e-6)
    assert trained.dataset_kwargs == {"backbone": "tiny", "modality": "flow", "input_size": 32}
    assert trained.label == "2 scales" and trained.attention == "pyramid"


def test_missing_run_json_raises(tmp_path):
    with pytest.raises(ValueError, match="run.json"):
        load_trained_stream(str(tmp_path))
