"""Rebuilding a trained stream model from its workdir."""

import gin
import numpy as np
import pytest

from iastp_tf.analysis.trained import load_trained_stream
from iastp_tf.models import build_stream_model


@pytest.fixture(autouse=True)
def _clear_gin():
    yield
    gin.clear_config()


def test_load_trained_stream_restores_weights_and_input_settings(tmp_path):
    (tmp_path / "operative_config.gin").write_text(
        "build_stream_model.backbone = 'tiny'\n"
        "build_stream_model.num_classes = 3\n"
        "SCALES = 2\n"  # operative configs keep macros
        "build_stream_model.num_scales = %SCALES\n"
        "build_stream_model.modality = 'flow'\n"
        "train.dataset_fn = @make_dataset\n"
        "build_stream_model.input_size = 32\n"
        "unknown_function.value = 1\n"  # configurables from other programs are skipped
    )
    saved = build_stream_model("tiny", modality="flow", num_classes=3, num_scales=2, input_size=32)
    saved.save_weights(str(tmp_path / "best.weights.h5"))
    trained = load_trained_stream(str(tmp_path))
    for mine, theirs in zip(trained.model.get_weights(), saved.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    assert trained.dataset_kwargs == {"backbone": "tiny", "modality": "flow", "input_size": 32}
    assert trained.label == "2 scales" and trained.attention == "pyramid"


def test_missing_operative_config_raises(tmp_path):
    with pytest.raises(ValueError, match="operative_config.gin"):
        load_trained_stream(str(tmp_path))
