"""Exported SavedModels equal the in-memory model, with K free (SPEC §5, STYLE 9)."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.evaluation.export import export_saved_model, load_export_metadata
from iastp_tf.models import build_stream_model
from iastp_tf.models.fusion import build_attention_fusion_model


@pytest.fixture(autouse=True)
def _clear_gin():
    yield
    gin.clear_config()


def test_reloaded_stream_equals_in_memory_model_for_k_3_and_25(tmp_path):
    model = build_stream_model("tiny", num_classes=5, input_size=32)
    export_dir = export_saved_model(model, str(tmp_path / "export"), {"modality": "rgb"})
    reloaded = tf.saved_model.load(export_dir)
    rng = np.random.default_rng(0)
    for frames in (3, 25):
        clips = rng.normal(size=(2, frames, 32, 32, 3)).astype(np.float32)
        expected = model(clips, training=False).numpy()
        np.testing.assert_allclose(reloaded.serve(tf.constant(clips)).numpy(), expected, rtol=1e-5, atol=1e-5)
        signature = reloaded.signatures["serving_default"]
        (served,) = signature(frames=tf.constant(clips)).values()
        np.testing.assert_allclose(served.numpy(), expected, rtol=1e-5, atol=1e-5)
    assert load_export_metadata(export_dir) == {"modality": "rgb"}


def test_two_stream_model_with_dict_inputs_exports(tmp_path):
    model = build_attention_fusion_model("tiny", num_classes=3, input_size=32, num_scales=2)
    reloaded = tf.saved_model.load(export_saved_model(model, str(tmp_path / "export")))
    rng = np.random.default_rng(1)
    inputs = {
        "rgb": rng.normal(size=(1, 4, 32, 32, 3)).astype(np.float32),
        "flow": rng.normal(size=(1, 4, 32, 32, 10)).astype(np.float32),
    }
    expected = model(inputs, training=False).numpy()
    got = reloaded.serve({name: tf.constant(value) for name, value in inputs.items()}).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
