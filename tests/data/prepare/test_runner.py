"""Sharding, resume, failures and rawframes input of the preparation runner."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.data import features
from iastp_tf.data.prepare import records, runner, splits, toy
from tests.data.prepare import outputs, videos

OPTIONS = runner.PrepareOptions(resize=None, tvl1_scales=2, tvl1_warps=2)


class _Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory):
    """12 small toy videos (3 for test) plus a truncated, an empty and a missing one."""
    root = tmp_path_factory.mktemp("toy")
    toy.make_toy_dataset(str(root), num_classes=3, videos_per_class=4, frames=4, size=(32, 24), corrupt=True)
    return str(root)


def _outputs(directory):
    """Bytes of every shard plus failures.txt."""
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(directory, "*.tfrecord")))
    content = {name: open(os.path.join(directory, name), "rb").read() for name in names}
    content["failures.txt"] = open(os.path.join(directory, "failures.txt"), "rb").read()
    return content


def _media_ids(directory, split):
    ids = []
    for serialized in tf.data.TFRecordDataset(sorted(glob.glob(os.path.join(directory, f"{split}-*.tfrecord")))):
        example = tf.train.SequenceExample.FromString(serialized.numpy())
        ids.append(example.context.feature[features.MEDIA_ID].bytes_list.value[0].decode())
    return ids


def test_failures_are_reported_and_the_run_completes(toy_dir, tmp_path):
    index = splits.read_ucf101(toy_dir, 1)
    summary = runner.prepare_dataset(index, str(tmp_path), videos_dir=toy_dir, options=OPTIONS,
                                     num_shards=2, progress=False)
    lines = (tmp_path / "failures.txt").read_text().splitlines()
    assert lines == summary.failures and len(lines) == 3
    by_video = {line.split("\t")[1]: line.split("\t")[2] for line in lines}
    assert by_video["right_slow/v_right_slow_g91_c01.avi"] == "empty file (0 bytes)"
    assert by_video["right_slow/v_right_slow_g92_c01.avi"] == "missing file"
    assert "corrupt" in by_video["right_slow/v_right_slow_g90_c01.avi"]
    assert all(line.startswith("train\t") for line in lines)

    info = json.loads((tmp_path / "dataset.json").read_text())
    assert info["failures"] == 3 and info["num_shards"] == {"train": 2, "test": 2}
    # Every listed good video is there exactly once, none of the bad ones.
    train_ids = _media_ids(str(tmp_path), "train")
    test_ids = _media_ids(str(tmp_path), "test")
    expected_train = {e.media_id for e in index.entries if e.split == "train" and "_g9" not in e.media_id}
    assert sorted(train_ids) == sorted(expected_train) and info["splits"]["train"] == 9
    assert sorted(test_ids) == sorted(e.media_id for e in index.entries if e.split == "test")
    assert not set(train_ids) & set(test_ids)


def test_interrupted_run_resumes_to_identical_output(toy_dir, tmp_path):
    index = splits.read_ucf101(toy_dir, 1)
    kwargs = dict(videos_dir=toy_dir, options=OPTIONS, num_shards=3, progress=False)
    runner.prepare_dataset(index, str(tmp_path / "whole"), **kwargs)

    def stop_after_five(done):
        if done == 5:
            raise _Interrupted

    with pytest.raises(_Interrupted):
        runner.prepare_dataset(index, str(tmp_path / "resumed"), on_video_done=stop_after_five, **kwargs)
    partial = tmp_path / "resumed" / runner.PARTIAL_DIR
    assert partial.is_dir() and not (tmp_path / "resumed" / "dataset.json").exists()
    finished_shards = glob.glob(str(tmp_path / "resumed" / "*.tfrecord"))
    pending_records = glob.glob(str(partial / "*.rec")) + glob.glob(str(partial / "*.fail"))
    assert len(finished_shards) >= 1 and pending_records  # Killed with a shard written and one under way.

    summary = runner.prepare_dataset(index, str(tmp_path / "resumed"), **kwargs)
    assert summary.processed == len(index.entries) - 5  # Nothing done twice.
    assert _outputs(tmp_path / "resumed") == _outputs(tmp_path / "whole")
    assert not partial.exists()
    # Running it once more does nothing and changes nothing.
    again = runner.prepare_dataset(index, str(tmp_path / "resumed"), **kwargs)
    assert again.processed == 0 and _outputs(tmp_path / "resumed") == _outputs(tmp_path / "whole")


def test_a_different_preparation_in_the_same_directory_is_refused(toy_dir, tmp_path):
    index = splits.read_ucf101(toy_dir, 1)

    def stop(done):
        raise _Interrupted

    with pytest.raises(_Interrupted):
        runner.prepare_dataset(index, str(tmp_path), videos_dir=toy_dir, options=OPTIONS, progress=False,
                               on_video_done=stop)
    with pytest.raises(ValueError, match="unfinished preparation"):
        runner.prepare_dataset(index, str(tmp_path), videos_dir=toy_dir, progress=False,
                               options=runner.PrepareOptions(resize=None, flow="farneback"))


def test_bad_options():
    with pytest.raises(ValueError, match="flow"):
        runner.PrepareOptions(flow="brox")
    with pytest.raises(ValueError, match="flow_compensation"):
        runner.PrepareOptions(flow="none", flow_compensation=True)
    with pytest.raises(ValueError, match="short_side"):
        runner.PrepareOptions(short_side=-1)


def _write_rawframes(directory, frames, flow_x, flow_y):
    os.makedirs(directory)
    for i, frame in enumerate(frames, start=1):
        with open(os.path.join(directory, f"img_{i:05d}.jpg"), "wb") as f:
            f.write(records.encode_jpeg(frame))
    for i, (x, y) in enumerate(zip(flow_x, flow_y), start=1):
        for name, field in (("flow_x", x), ("flow_y", y)):
            with open(os.path.join(directory, f"{name}_{i:05d}.jpg"), "wb") as f:
                f.write(records.encode_jpeg(records.quantize_flow(field)))


def _decode(jpeg):
    # TF's default fast IDCT can be one level off on flat images; OpenCV and
    # INTEGER_ACCURATE agree with the encoder.
    return tf.io.decode_jpeg(jpeg, dct_method="INTEGER_ACCURATE").numpy()


def _flow_means(record, key_x, key_y):
    context = record.feature_lists.feature_list
    xs = [records.dequantize_flow(_decode(f.bytes_list.value[0])).mean()
          for f in context[key_x].feature]
    ys = [records.dequantize_flow(_decode(f.bytes_list.value[0])).mean()
          for f in context[key_y].feature]
    return np.array(xs), np.array(ys)


def test_rawframes_are_copied_or_rescaled(tmp_path):
    frames = videos.textured_translation(4, 24, 32, (1, 0))
    constant = np.full((4, 24, 32), 3.0, np.float32)  # flow x = 3 px, y = -1 px, one field too many
    _write_rawframes(str(tmp_path / "raw" / "walk" / "clip_a"), frames, constant, -constant / 3)
    _write_rawframes(str(tmp_path / "raw" / "walk" / "clip_b"), frames[:1], [], [])  # T=1: no flow possible
    _write_rawframes(str(tmp_path / "raw" / "run" / "clip_c"), frames, [], [])  # flow computed
    (tmp_path / "raw" / "run" / "empty_dir").mkdir()
    index = splits.read_folder(str(tmp_path / "raw"), test_fraction=0, rawframes=True)
    assert [e.media_id for e in index.entries] == ["run/clip_c", "walk/clip_a", "walk/clip_b"]

    def prepare(name, options):
        runner.prepare_dataset(index, str(tmp_path / name), rawframes_dir=str(tmp_path / "raw"),
                               options=options, progress=False)
        out = {}
        for serialized in tf.data.TFRecordDataset(str(tmp_path / name / "train-00000-of-00001.tfrecord")):
            record = tf.train.SequenceExample.FromString(serialized.numpy())
            out[record.context.feature[features.MEDIA_ID].bytes_list.value[0].decode()] = record
        return out

    kept = prepare("kept", runner.PrepareOptions(resize=None, flow_compensation=True))
    images = kept["walk/clip_a"].feature_lists.feature_list[features.IMAGE_ENCODED].feature
    assert [f.bytes_list.value[0] for f in images] == [
        open(tmp_path / "raw" / "walk" / "clip_a" / f"img_{i:05d}.jpg", "rb").read() for i in range(1, 5)
    ]
    flow_x, flow_y = _flow_means(kept["walk/clip_a"], features.FLOW_X_ENCODED, features.FLOW_Y_ENCODED)
    assert len(flow_x) == 3  # T - 1 of the 4 stored fields
    np.testing.assert_allclose(flow_x, 3.0, atol=0.1)
    np.testing.assert_allclose(flow_y, -1.0, atol=0.1)
    mc_x, mc_y = _flow_means(kept["walk/clip_a"], features.FLOW_MC_X_ENCODED, features.FLOW_MC_Y_ENCODED)
    np.testing.assert_allclose(np.concatenate([mc_x, mc_y]), 0.0, atol=0.1)  # pure translation removed
    computed_x, _ = _flow_means(kept["run/clip_c"], features.FLOW_X_ENCODED, features.FLOW_Y_ENCODED)
    np.testing.assert_allclose(computed_x, 1.0, atol=0.3)  # TV-L1 on the frames themselves
    # One frame cannot give flow: a failure, not a record without flow.
    assert "walk/clip_b" not in kept
    assert (tmp_path / "kept" / "failures.txt").read_text() == (
        "train\twalk/clip_b\t1 frame: flow needs at least 2 frames\n")

    doubled = prepare("doubled", runner.PrepareOptions(resize=(64, 24), flow="tvl1"))
    context = doubled["walk/clip_a"].context.feature
    assert (context[features.WIDTH].int64_list.value[0], context[features.HEIGHT].int64_list.value[0]) == (64, 24)
    flow_x, flow_y = _flow_means(doubled["walk/clip_a"], features.FLOW_X_ENCODED, features.FLOW_Y_ENCODED)
    # x displacements scale with the width: twice the stored value, quantised again (half a step).
    stored_x = records.dequantize_flow(records.quantize_flow(3.0))
    np.testing.assert_allclose(flow_x, 2 * stored_x, atol=20 / 255 + 1e-4)
    np.testing.assert_allclose(flow_y, -1.0, atol=0.1)


def test_an_index_without_videos_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    index = splits.read_folder(str(tmp_path / "empty"), test_fraction=0)
    with pytest.raises(ValueError, match="no videos to prepare"):
        runner.prepare_dataset(index, str(tmp_path / "out"), videos_dir=str(tmp_path / "empty"), progress=False)
    assert not (tmp_path / "out" / "dataset.json").exists()


def test_a_deleted_shard_is_made_again_and_only_it(toy_dir, tmp_path):
    index = splits.read_ucf101(toy_dir, 1)
    kwargs = dict(videos_dir=toy_dir, options=OPTIONS, num_shards=3, progress=False)
    runner.prepare_dataset(index, str(tmp_path / "whole"), **kwargs)
    runner.prepare_dataset(index, str(tmp_path / "damaged"), **kwargs)
    (tmp_path / "damaged" / "train-00001-of-00003.tfrecord").unlink()

    summary = runner.prepare_dataset(index, str(tmp_path / "damaged"), **kwargs)
    # Train shard 1 holds positions 4..7 of the 12 train videos; nothing else is redone.
    assert summary.processed == 4
    assert _outputs(tmp_path / "damaged") == _outputs(tmp_path / "whole")
    assert (json.loads((tmp_path / "damaged" / "dataset.json").read_text())["videos"]
            == json.loads((tmp_path / "whole" / "dataset.json").read_text())["videos"])
    assert not (tmp_path / "damaged" / runner.PARTIAL_DIR).exists()


def test_only_our_own_temporary_files_are_deleted(toy_dir, tmp_path):
    index = splits.read_ucf101(toy_dir, 1)
    output = tmp_path / "out"
    output.mkdir()
    users = ["notes.tmp-1", "train-00000-of-00001.tfrecord.tmp-2", "draft.iastp-tmp-3"]
    for name in users:
        (output / name).write_text("the user's")
    ours = output / f"train-00000-of-00001.tfrecord{records.TEMPORARY_MARK}12345"  # left by a killed run
    ours.write_text("half a shard")
    runner.prepare_dataset(index, str(output), videos_dir=toy_dir, options=OPTIONS, num_shards=1, progress=False)
    assert all((output / name).read_text() == "the user's" for name in users)
    assert not ours.exists()


def _records_by_id(directory, split):
    out = {}
    for path in sorted(glob.glob(os.path.join(directory, f"{split}-*.tfrecord"))):
        for serialized in tf.data.TFRecordDataset(path):
            record = tf.train.SequenceExample.FromString(serialized.numpy())
            out[record.context.feature[features.MEDIA_ID].bytes_list.value[0].decode()] = record
    return out


def test_frame_folders_hold_the_records_jpeg_bytes(toy_dir, tmp_path):
    index = splits.read_ucf101(toy_dir, 1)
    options = runner.PrepareOptions(resize=None, tvl1_scales=2, tvl1_warps=2, flow_compensation=True)
    kwargs = dict(videos_dir=toy_dir, options=options, num_shards=2, progress=False)
    for output_format in ("both", "frames", "records"):
        runner.prepare_dataset(index, str(tmp_path / output_format), output_format=output_format, **kwargs)

    both = tmp_path / "both"
    info = json.loads((both / "dataset.json").read_text())
    assert info["format"] == "both" and info["frames_dir"] == "frames"
    prefixes = (("img", features.IMAGE_ENCODED), ("flow_x", features.FLOW_X_ENCODED),
                ("flow_y", features.FLOW_Y_ENCODED), ("flow_mc_x", features.FLOW_MC_X_ENCODED),
                ("flow_mc_y", features.FLOW_MC_Y_ENCODED))
    for split in ("train", "test"):
        by_id = _records_by_id(str(both), split)
        # Listed in shard order, which is position order.
        assert [video["id"] for video in info["videos"][split]] == _media_ids(str(both), split)
        for video in info["videos"][split]:
            record = by_id[video["id"]]
            context = record.context.feature
            assert video == {
                "id": video["id"],
                "labels": list(context[features.LABEL_INDEX].int64_list.value),
                "num_frames": len(record.feature_lists.feature_list[features.IMAGE_ENCODED].feature),
                "num_fields": len(record.feature_lists.feature_list[features.FLOW_X_ENCODED].feature),
                "height": context[features.HEIGHT].int64_list.value[0],
                "width": context[features.WIDTH].int64_list.value[0],
            }
            expected = {}
            for prefix, key in prefixes:
                for t, feature in enumerate(record.feature_lists.feature_list[key].feature, start=1):
                    expected[f"{prefix}_{t:05d}.jpg"] = feature.bytes_list.value[0]
            folder = both / "frames" / video["id"]
            assert {p.name: p.read_bytes() for p in folder.iterdir()} == expected

    # The formats alone write the same frames, shards and failures as both; failed videos leave no folder.
    assert outputs.file_tree(tmp_path / "frames" / "frames") == outputs.file_tree(both / "frames")
    assert not glob.glob(str(tmp_path / "frames" / "*.tfrecord")) and not (tmp_path / "records" / "frames").exists()
    assert _outputs(tmp_path / "records") == _outputs(both)
    assert (tmp_path / "frames" / "failures.txt").read_bytes() == (both / "failures.txt").read_bytes()
    assert len(list((both / "frames").glob("*/*"))) == 12  # 15 listed videos, 3 failed
    for name in ("frames", "records"):
        other = json.loads((tmp_path / name / "dataset.json").read_text())
        assert other["videos"] == info["videos"] and other["format"] == name


def test_a_deleted_frame_folder_is_made_again(toy_dir, tmp_path):
    index = splits.read_ucf101(toy_dir, 1)
    kwargs = dict(videos_dir=toy_dir, options=OPTIONS, num_shards=3, progress=False, output_format="frames")
    runner.prepare_dataset(index, str(tmp_path), **kwargs)
    info = json.loads((tmp_path / "dataset.json").read_text())
    folder = tmp_path / "frames" / info["videos"]["test"][0]["id"]
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    assert runner.prepare_dataset(index, str(tmp_path), **kwargs).processed == 1  # test shard 0: one video
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_a_one_frame_video_fails_only_when_flow_is_asked_for(tmp_path):
    (tmp_path / "in" / "walk").mkdir(parents=True)
    videos.write_video(tmp_path / "in" / "walk" / "still.avi", videos.textured_translation(1, 24, 32, (0, 0)))
    videos.write_video(tmp_path / "in" / "walk" / "moving.avi", videos.textured_translation(3, 24, 32, (1, 0)))
    index = splits.read_folder(str(tmp_path / "in"), test_fraction=0)
    for flow, failures in (("farneback", "train\twalk/still.avi\t1 frame: flow needs at least 2 frames\n"),
                           ("none", "")):
        summary = runner.prepare_dataset(index, str(tmp_path / flow), videos_dir=str(tmp_path / "in"),
                                         options=runner.PrepareOptions(resize=None, flow=flow), progress=False)
        assert (tmp_path / flow / "failures.txt").read_text() == failures
        assert summary.split_counts == {"train": 2 - bool(failures)}
