"""predict feeds each exported stream exactly what evaluation reads from the records (issue 11.4, 12.8, 12.10).

The toy videos are prepared into records by the preparation runner; the same
video files are then served by ``iastp_tf.evaluation.predict``, which only
knows the export metadata. The frames it feeds a stream must equal, bit for
bit, the test frames ``make_dataset(training=False)`` reads from the records.
"""

import glob
import json
import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.data import features
from iastp_tf.data.pipeline import make_dataset
from iastp_tf.data.prepare import runner, splits, toy
from iastp_tf.evaluation import export as export_lib
from iastp_tf.evaluation import predict as predict_lib
from iastp_tf.models.fusion import build_attention_fusion_model

NUM_SEGMENTS = 2
INPUT_SIZE = 32  # a multiple of 16 for the tiny backbone


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory):
    """4 toy videos of 24 frames, 64x48 (1 per class in the test list)."""
    root = tmp_path_factory.mktemp("toy")
    toy.make_toy_dataset(str(root), num_classes=2, videos_per_class=2, frames=24, size=(64, 48), test_fraction=0.5)
    return str(root)


PREPARATIONS = {
    # Frames stretched to another aspect, Farneback flow ("tvl1": null in dataset.json), motion compensation.
    "resize_farneback": runner.PrepareOptions(flow="farneback", flow_compensation=True, resize=(40, 36),
                                              jpeg_quality=80),
    # Aspect kept (one frame size here, but no resize recorded), TV-L1 with recorded settings.
    "short_side_tvl1": runner.PrepareOptions(flow="tvl1", flow_compensation=True, resize=None, short_side=30,
                                             tvl1_scales=2, tvl1_warps=2),
}


@pytest.fixture(scope="module", params=sorted(PREPARATIONS))
def prepared(request, toy_dir, tmp_path_factory):
    """(records dir, its dataset.json, {media_id: video path}) of one preparation."""
    output = tmp_path_factory.mktemp(request.param)
    index = splits.read_ucf101(toy_dir, 1)
    runner.prepare_dataset(index, str(output), videos_dir=toy_dir, options=PREPARATIONS[request.param],
                           num_shards=1, progress=False)
    info = json.loads((output / "dataset.json").read_text())
    videos = {e.media_id: os.path.join(toy_dir, e.source) for e in index.entries if e.split == "test"}
    return str(output), info, videos


def _metadata(info, modality, test_crops=1):
    """Export metadata as ``export.export`` writes it for a tiny stream."""
    new_length = None if isinstance(modality, tuple) else 1 if modality == "rgb" else 5
    return {
        "backbone": "tiny", "input_range": [0, 255], "modality": modality, "input_size": INPUT_SIZE,
        "new_length": new_length,
        "num_segments": NUM_SEGMENTS, "test_crops": test_crops, "class_names": info["class_names"],
        "preparation": export_lib.preparation(info),
    }


@pytest.mark.parametrize(
    "modality,test_crops", [("rgb", 1), ("rgb", 10), ("flow", 1), ("flow_mc", 1), (("rgb", "flow"), 1)]
)
def test_served_frames_equal_the_pipelines_test_frames(prepared, modality, test_crops):
    data_dir, info, videos = prepared
    dataset = make_dataset(data_dir, "test", modality=modality, backbone="tiny", batch_size=1, training=False,
                           num_segments=NUM_SEGMENTS, input_size=INPUT_SIZE, test_crops=test_crops)
    checked = 0
    for frames, _, media_ids in dataset:
        (served,) = predict_lib.served_views(
            videos[media_ids[0].numpy().decode()], [_metadata(info, modality, test_crops)], progress=False
        )
        if isinstance(modality, tuple):  # a two-stream model's input: {modality: [V, K, S, S, C]}
            assert sorted(served) == sorted(frames) == sorted(modality)
            for name in modality:
                np.testing.assert_array_equal(served[name].numpy(), frames[name][0].numpy())
        else:
            assert served.shape == frames.shape[1:]
            np.testing.assert_array_equal(served.numpy(), frames[0].numpy())
        checked += 1
    assert checked == len(videos) == 2


def test_flow_is_computed_only_for_the_fields_the_test_views_read():
    # 24 frames -> 23 fields; K = 2 snippets of 5 fields start at the segment middles.
    metadata = {"modality": "flow", "num_segments": 2, "new_length": 5}
    span = 23 - 5 + 1
    starts = [int(span / 2 / 2 + span / 2 * k) for k in range(2)]  # TSN test offsets
    expected = sorted({s + i for s in starts for i in range(5)})
    assert predict_lib.flow_fields_read(24, metadata) == expected


def test_preparation_records_geometry_flow_and_quality(prepared):
    _, info, _ = prepared
    got = export_lib.preparation(info)
    if info["flow"]["method"] == "farneback":
        assert got["resize"] == [40, 36] and got["short_side"] is None and got["tvl1"] is None
        assert got["jpeg_quality"] == 80 and got["flow"]["compensated"] is True
    else:
        assert got["resize"] is None and got["short_side"] == 30 and got["frame_size"] == [30, 40]
        assert got["tvl1"] == {"scales": 2, "warps": 2} and got["flow"]["method"] == "tvl1"


def test_an_old_dataset_json_gives_its_frame_size_as_resize():
    info = {"frame_size": [36, 40], "flow": {"method": "tvl1", "bound": 20.0, "compensated": False}}
    assert export_lib.preparation(info)["resize"] == [40, 36]


def test_served_record_stores_the_recorded_frame_size(prepared):
    data_dir, info, videos = prepared
    media_id, path = sorted(videos.items())[0]
    frames, frame_rate = predict_lib.read_frames(path, export_lib.preparation(info))
    shard = sorted(glob.glob(os.path.join(data_dir, "test-*.tfrecord")))[0]
    for serialized in tf.data.TFRecordDataset(shard):
        context = tf.train.SequenceExample.FromString(serialized.numpy()).context.feature
        if context[features.MEDIA_ID].bytes_list.value[0].decode() == media_id:
            assert frames.shape[1:3] == (context[features.HEIGHT].int64_list.value[0],
                                         context[features.WIDTH].int64_list.value[0])


def test_predict_serves_a_two_stream_model_as_evaluation_scores_it(prepared, tmp_path):
    data_dir, info, videos = prepared
    model = build_attention_fusion_model("tiny", num_classes=2, input_size=INPUT_SIZE, num_scales=2)
    export_dir = export_lib.export_saved_model(model, str(tmp_path / "export"), _metadata(info, ("rgb", "flow")))
    dataset = make_dataset(data_dir, "test", modality=("rgb", "flow"), backbone="tiny", batch_size=1,
                           training=False, num_segments=NUM_SEGMENTS, input_size=INPUT_SIZE)
    frames, _, media_ids = next(iter(dataset))
    logits = model({name: value[0] for name, value in frames.items()}, training=False).numpy().mean(axis=0)  # [N]
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    top = predict_lib.predict(videos[media_ids[0].numpy().decode()], export_dirs=[export_dir], progress=False)
    assert [entry["probability"] for entry in top] == pytest.approx(sorted(expected, reverse=True), abs=1e-5)
    assert [entry["class"] for entry in top] == [info["class_names"][i] for i in np.argsort(-expected)]


def test_a_one_frame_video_is_refused_by_a_flow_stream_but_served_to_rgb(prepared, tmp_path):
    _, info, _ = prepared
    path = str(tmp_path / "still.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    writer.write(np.full((48, 64, 3), 100, np.uint8))
    writer.release()
    (rgb,) = predict_lib.served_views(path, [_metadata(info, "rgb")], progress=False)
    assert rgb.shape == (1, NUM_SEGMENTS, INPUT_SIZE, INPUT_SIZE, 3)
    with pytest.raises(ValueError, match="still.avi has 1 frame; a flow stream needs 2 or more"):
        list(predict_lib.served_views(path, [_metadata(info, "flow")], progress=False))


def test_an_export_that_takes_normalised_frames_is_refused(prepared, tmp_path):
    """Exports from before the model normalised its own input lack input_range; serving them 0..255 frames
    would be silently wrong."""
    data_dir, info, videos = prepared
    old = {key: value for key, value in _metadata(info, "rgb").items() if key != "input_range"}
    export_dir = tmp_path / "old_export"
    export_dir.mkdir()
    (export_dir / export_lib.EXPORT_METADATA).write_text(json.dumps(old))
    with pytest.raises(ValueError, match="takes normalised frames .* export the run again"):
        predict_lib.predict(next(iter(videos.values())), export_dirs=[str(export_dir)], progress=False)
