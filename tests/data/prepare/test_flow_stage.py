"""--flow=tvl1_tf in preparation: the batched flow stage, its determinism, and its records against --flow=tvl1."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.data import features
from iastp_tf.data.pipeline import make_dataset
from iastp_tf.data.prepare import flow as flow_lib, rawframes, records, runner, splits, toy, worker
from tests.data.prepare import outputs, videos

# Few scales and warps on small frames: one small XLA program per batch size.
OPTIONS = runner.PrepareOptions(flow="tvl1_tf", resize=(64, 48), tvl1_scales=2, tvl1_warps=2)
PARAMS = flow_lib.tvl1_tf_params("opencv", scales=2, warps=2)


def _grey_video(frames, shift, seed):
    return videos.textured_translation(frames, 48, 64, shift, seed)[..., 0]  # uint8 [T, 48, 64]


def test_a_pairs_field_does_not_depend_on_the_other_pairs_of_its_batch():
    a = _grey_video(4, (1.3, -0.7), seed=1)
    b = _grey_video(4, (-0.4, 2.1), seed=2)
    first = flow_lib.tvl1_tf_batch(np.stack([a[0], a[1], b[0]]), np.stack([a[1], a[2], b[1]]), PARAMS, 4)
    # The same pairs elsewhere in the batch, among others, and alone in a padded batch.
    second = flow_lib.tvl1_tf_batch(np.stack([b[2], b[0], a[1], a[0]]), np.stack([b[3], b[1], a[2], a[1]]),
                                    PARAMS, 4)
    alone = flow_lib.tvl1_tf_batch(a[1:2], a[2:3], PARAMS, 4)
    assert first.shape == (3, 48, 64, 2) and alone.shape == (1, 48, 64, 2)
    np.testing.assert_array_equal(first[0], second[3])
    np.testing.assert_array_equal(first[1], second[2])
    np.testing.assert_array_equal(first[2], second[1])
    np.testing.assert_array_equal(first[1], alone[0])
    assert 0.5 < np.median(first[0][..., 0]) < 2.0  # a real flow, not zeros: content moves by (1.3, -0.7)


def test_flow_estimator_runs_tvl1_tf_one_pair_at_a_time():
    a = _grey_video(3, (1.3, -0.7), seed=1)
    ours = flow_lib.FlowEstimator("tvl1_tf", tvl1_scales=2, tvl1_warps=2).pair(a[1], a[2])
    np.testing.assert_array_equal(ours, flow_lib.tvl1_tf_batch(a[1:2], a[2:3], PARAMS, 4)[0])
    theirs = flow_lib.FlowEstimator("tvl1", tvl1_scales=2, tvl1_warps=2).pair(a[1], a[2])
    assert ours.shape == (48, 64, 2) and np.linalg.norm(ours - theirs, axis=-1).mean() < 0.05
    dense = flow_lib.FlowEstimator("tvl1_tf", tvl1_scales=2, tvl1_warps=2, tvl1_preset="denseflow").pair(a[1], a[2])
    assert not np.array_equal(dense, ours)  # the preset reaches the solver
    with pytest.raises(ValueError, match="tvl1_preset"):
        flow_lib.FlowEstimator("tvl1_tf", tvl1_preset="cuda")


def test_flow_batcher_returns_every_video_whole_and_in_order(monkeypatch):
    calls = []

    def fake_batch(previous, current, params, batch_size):  # A stand-in flow: the pair's grey levels.
        calls.append((len(previous), previous.shape[1:]))
        return np.stack([previous, current], axis=-1).astype(np.float32)

    monkeypatch.setattr(flow_lib, "tvl1_tf_batch", fake_batch)
    rng = np.random.default_rng(0)
    shapes = {"a": (4, 6, 8), "b": (2, 5, 7), "c": (6, 6, 8), "d": (3, 6, 8)}  # [T, H, W]: two frame sizes
    grey = {key: rng.integers(0, 256, shape, dtype=np.uint8) for key, shape in shapes.items()}
    batcher = flow_lib.FlowBatcher(PARAMS, batch_size=4)
    done = {}
    for key in grey:
        done.update(batcher.add(key, grey[key]))
    assert sorted(done) == ["a", "c"]  # 3 + 5 + 2 pairs of 6x8: two full batches, which end a and c
    done.update(batcher.flush())
    assert sorted(done) == ["a", "b", "c", "d"]
    for key, frames in grey.items():
        assert len(done[key]) == len(frames) - 1
        for t, field in enumerate(done[key]):
            np.testing.assert_array_equal(field, np.stack([frames[t], frames[t + 1]], axis=-1))
    assert calls == [(4, (6, 8)), (4, (6, 8)), (2, (6, 8)), (1, (5, 7))]  # one size a batch; the rest flushed
    with pytest.raises(ValueError, match="flow_batch_size"):
        flow_lib.FlowBatcher(PARAMS, batch_size=0)


def test_a_batched_flow_job_is_processed_then_encoded(tmp_path):
    frames = videos.textured_translation(3, 48, 64, (1.0, 0.0))
    videos.write_video(tmp_path / "v.avi", frames)
    entry = splits.VideoEntry("train", "v", "v.avi", (0,), ("c",))
    job = worker.Job("train", 0, entry, "video", str(tmp_path / "v.avi"), OPTIONS)
    decoded = worker.process(job)
    assert isinstance(decoded, worker.Decoded) and decoded.grey.shape == (3, 48, 64)
    assert decoded.grey.dtype == np.uint8 and len(decoded.record.frames) == 3 and not decoded.record.flow_x
    fields = [np.full((48, 64, 2), 20.0 * (t + 1) / 4, np.float32) for t in range(2)]  # 5 and 10 px
    result = worker.encode(decoded, fields)
    levels = [rawframes.decode_jpeg(jpeg, grey=True) for jpeg in result.record.flow_x]
    for t, level in enumerate(levels):  # round(255 (v + 20) / 40) = 159 and 191, up to JPEG's rounding
        assert np.abs(level.astype(int) - round(255 * (20.0 * (t + 1) / 4 + 20) / 40)).max() <= 1
    failed = worker.encode(decoded, fields[:1])  # one field short: the video fails, the run goes on
    assert failed.record is None and "flow" in failed.reason


def _flow_by_video(directory):
    """media_id -> dequantised float32 [T-1, H, W, 2] flow of every record in ``directory``."""
    flows = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.tfrecord"))):
        for serialized in tf.data.TFRecordDataset(path):
            example = tf.train.SequenceExample.FromString(serialized.numpy())
            media_id = example.context.feature[features.MEDIA_ID].bytes_list.value[0].decode()
            axes = [[rawframes.decode_jpeg(f.bytes_list.value[0], grey=True)
                     for f in example.feature_lists.feature_list[key].feature]
                    for key in (features.FLOW_X_ENCODED, features.FLOW_Y_ENCODED)]
            flows[media_id] = records.dequantize_flow(np.stack([np.stack(axes[0]), np.stack(axes[1])], axis=-1))
    return flows


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory):
    """8 toy videos of 5 frames (2 for test) plus a truncated, an empty and a missing one."""
    root = tmp_path_factory.mktemp("toy")
    toy.make_toy_dataset(str(root), num_classes=2, videos_per_class=4, frames=5, size=(64, 48), corrupt=True)
    return str(root)


@pytest.mark.slow
def test_tvl1_tf_records_are_read_by_the_pipeline_and_match_opencv_tvl1(toy_dir, tmp_path):
    index = splits.read_ucf101(toy_dir, 1)
    kwargs = dict(videos_dir=toy_dir, num_shards=2, progress=False, command="the same command")
    tf_run = runner.prepare_dataset(index, str(tmp_path / "tf"), options=OPTIONS, workers=0, flow_batch_size=4,
                                    **kwargs)
    opencv = runner.PrepareOptions(flow="tvl1", resize=(64, 48), tvl1_scales=2, tvl1_warps=2)
    cv_run = runner.prepare_dataset(index, str(tmp_path / "cv"), options=opencv, workers=0, **kwargs)
    assert tf_run.split_counts == cv_run.split_counts == {"train": 6, "test": 2}
    assert tf_run.failures == cv_run.failures and len(tf_run.failures) == 3

    info = json.loads((tmp_path / "tf" / "dataset.json").read_text())
    assert info["flow"]["method"] == "tvl1_tf"
    assert info["tvl1"]["preset"] == "opencv" and (info["tvl1"]["scales"], info["tvl1"]["warps"]) == (2, 2)
    assert info["tvl1"]["params"] == {"tau": 0.25, "lambda_": 0.15, "theta": 0.3, "nscales": 2, "warps": 2,
                                      "epsilon": 0.01, "inner_iterations": 30, "outer_iterations": 10,
                                      "scale_step": 0.8, "gamma": 0.0, "median_filtering": 5}

    tf_flow, cv_flow = _flow_by_video(str(tmp_path / "tf")), _flow_by_video(str(tmp_path / "cv"))
    assert sorted(tf_flow) == sorted(cv_flow) and len(tf_flow) == 8
    ours = np.concatenate([tf_flow[key] for key in sorted(tf_flow)])  # [fields, H, W, 2], dequantised
    theirs = np.concatenate([cv_flow[key] for key in sorted(cv_flow)])
    step = 2 * features.FLOW_BOUND / 255
    epe = np.linalg.norm(ours - theirs, axis=-1).mean()
    within_one_level = (np.abs(ours - theirs) <= step * 1.01).mean()
    assert ours.shape == (32, 48, 64, 2) and np.abs(theirs).max() > 1.0  # the toy shapes do move
    assert epe <= 0.05, epe  # the bound
    assert within_one_level >= 0.99, within_one_level

    clips = make_dataset(str(tmp_path / "tf"), "test", modality="flow", backbone="tiny", batch_size=2,
                         training=False, input_size=32)
    (frames, labels, media_ids), = list(clips)
    assert frames.shape == (2, 1, 3, 32, 32, 10) and sorted(labels.numpy()) == [0, 1]  # [B, V, K, S, S, 2L]
    assert sorted(m.decode() for m in media_ids.numpy()) == sorted(e.media_id for e in index.entries
                                                                    if e.split == "test")
    assert float(tf.math.reduce_std(frames)) > 0  # flow that moves, not a constant


@pytest.mark.slow
def test_tvl1_tf_output_is_the_same_for_any_workers_and_batch_size(toy_dir, tmp_path):
    index = splits.read_ucf101(toy_dir, 1)
    kwargs = dict(videos_dir=toy_dir, options=OPTIONS, num_shards=2, progress=False, command="the same command",
                  output_format="both")
    runner.prepare_dataset(index, str(tmp_path / "one"), workers=0, flow_batch_size=4, **kwargs)
    runner.prepare_dataset(index, str(tmp_path / "two"), workers=2, flow_batch_size=3, **kwargs)
    one, two = outputs.file_tree(tmp_path / "one"), outputs.file_tree(tmp_path / "two")
    assert sorted(one) == sorted(two) and len([name for name in one if name.endswith(".tfrecord")]) == 4
    assert one == two


class _Interrupted(Exception):
    pass


@pytest.mark.slow
def test_interrupted_tvl1_tf_run_resumes_to_the_same_output(toy_dir, tmp_path):
    index = splits.read_ucf101(toy_dir, 1)
    kwargs = dict(videos_dir=toy_dir, options=OPTIONS, num_shards=3, progress=False, command="the same command",
                  output_format="both", flow_batch_size=4)
    runner.prepare_dataset(index, str(tmp_path / "whole"), **kwargs)

    def stop_after_four(done):
        if done == 4:
            raise _Interrupted

    with pytest.raises(_Interrupted):
        runner.prepare_dataset(index, str(tmp_path / "resumed"), on_video_done=stop_after_four, **kwargs)
    assert not (tmp_path / "resumed" / "dataset.json").exists()
    summary = runner.prepare_dataset(index, str(tmp_path / "resumed"), **kwargs)
    assert summary.processed == len(index.entries) - 4  # saved videos are not redone
    assert outputs.file_tree(tmp_path / "resumed") == outputs.file_tree(tmp_path / "whole")


def test_rawframes_with_tvl1_tf_keep_stored_flow_and_compute_the_rest(tmp_path):
    frames = videos.textured_translation(4, 48, 64, (1, 0))  # content moves 1 px right per frame
    stored = records.encode_jpeg(records.quantize_flow(np.full((48, 64), 3.0, np.float32)))
    for name, with_flow in (("stored", True), ("computed", False)):
        folder = tmp_path / "raw" / "walk" / name
        folder.mkdir(parents=True)
        for i, frame in enumerate(frames, start=1):
            (folder / f"img_{i:05d}.jpg").write_bytes(records.encode_jpeg(frame))
            if with_flow and i < len(frames):
                (folder / f"flow_x_{i:05d}.jpg").write_bytes(stored)
                (folder / f"flow_y_{i:05d}.jpg").write_bytes(stored)
    index = splits.read_folder(str(tmp_path / "raw"), test_fraction=0, rawframes=True)
    options = runner.PrepareOptions(flow="tvl1_tf", resize=None, tvl1_scales=2, tvl1_warps=2)
    summary = runner.prepare_dataset(index, str(tmp_path / "out"), rawframes_dir=str(tmp_path / "raw"),
                                     options=options, progress=False, flow_batch_size=4)
    assert summary.split_counts == {"train": 2} and not summary.failures
    flows = _flow_by_video(str(tmp_path / "out"))
    np.testing.assert_allclose(flows["walk/stored"], records.dequantize_flow(records.quantize_flow(3.0)),
                               atol=1e-6)  # copied byte for byte, not recomputed
    computed = flows["walk/computed"]  # [3, 48, 64, 2]
    assert computed.shape == (3, 48, 64, 2)
    np.testing.assert_allclose(computed[:, 8:-8, 8:-8, 0].mean(axis=(1, 2)), 1.0, atol=0.2)
    np.testing.assert_allclose(computed[:, 8:-8, 8:-8, 1].mean(axis=(1, 2)), 0.0, atol=0.2)
