"""The frame-axis layers and MotionGate: shapes, and the registered names saved files use."""

import keras
import numpy as np
import pytest

from iastp_tf.layers import FrameMean, MergeFrames, MotionGate, SplitFrames


def test_merge_split_and_mean_over_frames():
    x = np.arange(2 * 3 * 4, dtype="float32").reshape(2, 3, 4)
    merged = MergeFrames()(x[..., None, None])  # [6, 4, 1, 1]
    np.testing.assert_array_equal(merged[:, :, 0, 0], x.reshape(6, 4))
    split = SplitFrames()(merged[:, :, 0, 0], x)  # [2, 3, 4]
    np.testing.assert_array_equal(split, x)
    np.testing.assert_allclose(FrameMean()(x), x.mean(axis=1))


@pytest.mark.parametrize(
    "module,layer_cls,config",
    [
        ("iastp_tf.models.stream", MergeFrames, {}),
        ("iastp_tf.models.stream", SplitFrames, {}),
        ("iastp_tf.models.stream", FrameMean, {}),
        ("iastp_tf.models.fusion", MotionGate, {"return_gate": True}),
    ],
)
def test_configs_saved_under_the_old_modules_still_load(module, layer_cls, config):
    """`.keras` files written before the move name the old module; the registered name finds the class."""
    saved = {
        "module": module,
        "class_name": layer_cls.__name__,
        "config": {"name": "saved", "trainable": True, "dtype": "float32", **config},
        "registered_name": f"iastp_tf>{layer_cls.__name__}",
    }
    layer = keras.saving.deserialize_keras_object(saved)
    assert type(layer) is layer_cls and layer.name == "saved"
    assert keras.saving.get_registered_name(layer_cls) == f"iastp_tf>{layer_cls.__name__}"
