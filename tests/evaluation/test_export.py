"""Exported SavedModels equal the in-memory model, with K free (SPEC §5, STYLE 9)."""

import json
import os

import gin
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf import runs
from iastp_tf.evaluation.export import export, export_saved_model, load_export_metadata
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


def _tiny_model():
    return build_stream_model("tiny", num_classes=2, input_size=32)


def test_an_existing_export_is_kept_unless_overwrite(tmp_path):
    model = _tiny_model()
    export_dir = tmp_path / "export"
    export_dir.mkdir()
    (export_dir / "notes.txt").write_text("someone else's file")
    with pytest.raises(ValueError, match="not empty.*--overwrite"):
        export_saved_model(model, str(export_dir), {"modality": "rgb"})
    assert sorted(os.listdir(export_dir)) == ["notes.txt"]
    export_saved_model(model, str(export_dir), {"modality": "flow"}, overwrite=True)
    assert not (export_dir / "notes.txt").exists()  # replaced as a whole, not mixed
    assert load_export_metadata(str(export_dir)) == {"modality": "flow"}
    assert sorted(os.listdir(tmp_path)) == ["export"]  # no temporary folder left


def test_an_empty_export_folder_is_used(tmp_path):
    (tmp_path / "export").mkdir()
    export_saved_model(_tiny_model(), str(tmp_path / "export"), {"modality": "rgb"})
    assert (tmp_path / "export" / "saved_model.pb").exists()


def test_a_failed_export_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    model = _tiny_model()
    export_dir = str(tmp_path / "export")
    export_saved_model(model, export_dir, {"modality": "rgb"})
    before = sorted(os.listdir(export_dir))

    def half_export(directory, **kwargs):
        with open(os.path.join(directory, "saved_model.pb"), "w") as f:
            f.write("half")
        raise OSError("disk full")

    monkeypatch.setattr(model, "export", half_export)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, export_dir, {"modality": "flow"}, overwrite=True)
    assert sorted(os.listdir(export_dir)) == before and load_export_metadata(export_dir) == {"modality": "rgb"}
    assert sorted(os.listdir(tmp_path)) == ["export"]
    with pytest.raises(OSError):
        export_saved_model(model, str(tmp_path / "new"), overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["export"]  # a first export that fails leaves nothing


def _trained_workdir(tmp_path, class_names, model_fn=_tiny_model):
    """A workdir with last weights and a run.json naming ``class_names``."""
    workdir = tmp_path / "run"
    workdir.mkdir()
    model = model_fn()
    runs.save_weights(model, str(workdir / runs.LAST_WEIGHTS))
    runs.write_run_info(str(workdir), {"class_names": list(class_names)})
    return str(workdir), model


def _data_dir(tmp_path, class_names):
    data_dir = tmp_path / "records"
    data_dir.mkdir()
    info = {
        "class_names": list(class_names), "num_classes": len(class_names), "frame_size": None,
        "resize": None, "short_side": 256, "jpeg_quality": 85,
        "flow": {"method": "farneback", "bound": 20.0, "compensated": False}, "tvl1": None,
    }
    (data_dir / "dataset.json").write_text(json.dumps(info))
    return str(data_dir)


def test_export_refuses_records_of_other_classes(tmp_path):
    workdir, _ = _trained_workdir(tmp_path, ["walk", "run"])
    data_dir = _data_dir(tmp_path, ["walk", "jump"])  # same class count, other classes
    with pytest.raises(ValueError, match=r"class 1 is 'run' in training but 'jump'"):
        export(workdir=workdir, data_dir=data_dir, model_fn=_tiny_model, backbone="tiny", modality="rgb")
    assert not os.path.exists(os.path.join(workdir, "export"))


def test_export_records_the_preparation_and_serves_the_trained_weights(tmp_path):
    workdir, model = _trained_workdir(tmp_path, ["walk", "run"])
    data_dir = _data_dir(tmp_path, ["walk", "run"])
    export_dir = export(workdir=workdir, data_dir=data_dir, model_fn=_tiny_model, backbone="tiny", modality="flow",
                        num_segments=4)
    metadata = load_export_metadata(export_dir)
    assert metadata["class_names"] == ["walk", "run"] and metadata["new_length"] == 5
    assert metadata["num_segments"] == 4 and metadata["test_crops"] == 1
    assert metadata["preparation"] == {
        "resize": None, "short_side": 256, "frame_size": None, "jpeg_quality": 85,
        "flow": {"method": "farneback", "bound": 20.0, "compensated": False}, "tvl1": None,
    }
    clips = np.random.default_rng(2).normal(size=(1, 3, 32, 32, 3)).astype(np.float32)
    reloaded = tf.saved_model.load(export_dir)
    served = reloaded.serve(tf.constant(clips)).numpy()
    np.testing.assert_allclose(served, model(clips, training=False).numpy(), rtol=1e-5, atol=1e-5)


def test_a_two_stream_export_records_each_modality(tmp_path):
    def fusion_model():
        return build_attention_fusion_model("tiny", num_classes=2, input_size=32, num_scales=2)

    workdir, _ = _trained_workdir(tmp_path, ["walk", "run"], fusion_model)
    data_dir = _data_dir(tmp_path, ["walk", "run"])
    metadata = load_export_metadata(export(workdir=workdir, data_dir=data_dir, model_fn=fusion_model,
                                           backbone="tiny", modality=("rgb", "flow")))
    assert metadata["modality"] == ["rgb", "flow"] and metadata["channels"] == {"rgb": 3, "flow": 10}
    assert metadata["new_length"] is None and metadata["input_size"] == 32  # None: 1 RGB, 5 flow, as make_dataset
