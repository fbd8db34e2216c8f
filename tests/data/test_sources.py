"""Records and frame folders give the same clips; damaged or missing files give errors naming them."""

import os

import gin
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.data.pipeline import make_dataset
from tests.data import records_util as ru

SIZE = 32


def batches(data_dir, source, **kwargs):
    """Every batch of make_dataset as NumPy, frames flattened to a list of arrays per batch."""
    out = []
    for batch in make_dataset(str(data_dir), input_size=SIZE, source=source, **kwargs):
        frames = batch[0] if isinstance(batch[0], dict) else {"": batch[0]}
        out.append([frames[k].numpy() for k in sorted(frames)] + [b.numpy() for b in batch[1:]])
    return out


@pytest.mark.parametrize("modality", ["rgb", "flow", ("rgb", "flow")])
@pytest.mark.parametrize("training", [True, False])
def test_records_and_frames_give_identical_clips(tmp_path, modality, training):
    split = "train" if training else "test"
    num_frames = [12, 20, 7, 3, 16, 9, 25]
    ru.write_index_coded_dataset(tmp_path, num_frames, split=split, num_shards=3, output_format="both")
    kwargs = dict(split=split, modality=modality, batch_size=2, training=training, seed=7, shuffle_buffer=4)
    if not training:
        kwargs |= dict(num_segments=4, test_crops=10)
    from_records, from_frames = batches(tmp_path, "records", **kwargs), batches(tmp_path, "frames", **kwargs)
    assert len(from_records) == (3 if training else 4)
    for a, b in zip(from_records, from_frames, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    # The clips are real: each batch's RGB or flow y values are frame-index codes.
    first = as_first_pixel(from_records[0][0])
    assert np.all(first > 0)
    # Some video's clip differs from another's: the comparison is not between empties.
    assert len({tuple(np.round(c.mean(axis=tuple(range(1, c.ndim))), 3)) for c in from_records[0][0]}) == 2


def as_first_pixel(frames):
    return np.asarray(frames)


def test_auto_reads_frames_when_listed_and_records_otherwise(tmp_path):
    both, records_only = tmp_path / "both", tmp_path / "records"
    ru.write_index_coded_dataset(both, [6, 9], num_shards=2, output_format="both")
    ru.write_index_coded_dataset(records_only, [6, 9], num_shards=2)
    for name in os.listdir(both):
        if name.endswith(".tfrecord"):
            os.remove(both / name)
    (frames, labels), = batches(both, "auto", split="train", batch_size=2, seed=1)  # no shards read
    assert sorted(labels) == [0, 1]
    assert len(batches(records_only, "auto", split="train", batch_size=2, seed=1)) == 1
    with pytest.raises(ValueError, match="source 'frames'.*records"):
        make_dataset(str(records_only), "train", source="frames")
    with pytest.raises(ValueError, match="source"):
        make_dataset(str(both), "train", source="rawframes")


def test_frames_only_directory_and_absolute_frames_dir(tmp_path):
    ru.write_index_coded_dataset(tmp_path / "data", [6, 9, 11], split="test", output_format="frames")
    assert not [n for n in os.listdir(tmp_path / "data") if n.endswith(".tfrecord")]
    elsewhere = tmp_path / "rawframes"
    os.rename(tmp_path / "data" / "frames", elsewhere)
    info_path = tmp_path / "data" / "dataset.json"
    info = info_path.read_text().replace('"frames_dir": "frames"', f'"frames_dir": "{elsewhere}"')
    info_path.write_text(info)
    (frames, labels, media_ids), = batches(
        tmp_path / "data", "auto", split="test", batch_size=3, num_segments=1, training=False
    )
    assert list(media_ids) == [b"video_0", b"video_1", b"video_2"]
    # TSN test offset of one segment: the centre frame int(T / 2) of each video.
    red = as_first_pixel(frames)[:, 0, 0, ..., 0].mean(axis=(-2, -1))
    np.testing.assert_array_equal(ru.frame_index(red, ru.RGB_BASE), [3, 4, 5])


@pytest.mark.parametrize("damage", ["missing", "truncated", "not_a_jpeg", "empty", "start_marker_only"])
def test_damaged_frame_file_names_the_file(tmp_path, damage):
    ru.write_index_coded_dataset(tmp_path, [4, 5], split="test", with_flow=True, output_format="frames")
    path = tmp_path / "frames" / "video_1" / "flow_y_00002.jpg"  # one test view of K=1, L=5 reads all fields
    if damage == "missing":
        os.remove(path)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-40])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "start_marker_only":  # SOI and "EOI" overlap: must not pass as FF D8 ... FF D9
        path.write_bytes(b"\xff\xd8")
    else:
        path.write_bytes(ru.NOT_A_JPEG)
    dataset = make_dataset(str(tmp_path), "test", modality="flow", batch_size=2, num_segments=1,
                           input_size=SIZE, training=False)
    with pytest.raises(tf.errors.OpError, match="video_1/flow_y_00002.jpg"):
        list(dataset)


def test_flow_from_frames_needs_fields(tmp_path):
    ru.write_index_coded_dataset(tmp_path, [1, 5], output_format="frames")
    with pytest.raises(ValueError, match="video_0"):
        make_dataset(str(tmp_path), "train", modality="flow", input_size=SIZE)


def test_missing_shard_is_named(tmp_path):
    ru.write_index_coded_dataset(tmp_path, [4, 5, 6, 7], split="test", num_shards=3)
    os.remove(tmp_path / "test-00001-of-00003.tfrecord")
    with pytest.raises(ValueError, match=r"test-00001-of-00003\.tfrecord.*[Rr]erun the prepare command"):
        make_dataset(str(tmp_path), "test", training=False)


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
@pytest.mark.parametrize("training", [True, False])
def test_damaged_shard_is_named(tmp_path, damage, training):
    ru.write_index_coded_dataset(tmp_path, [4, 5, 6, 7], split="train", num_shards=2, with_flow=False)
    path = tmp_path / "train-00001-of-00002.tfrecord"
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) - 100]
    else:
        data[len(data) // 2] ^= 0xFF  # inside the first record's JPEGs: its CRC fails
    path.write_bytes(bytes(data))
    dataset = make_dataset(str(tmp_path), "train", batch_size=1, input_size=SIZE, training=training, seed=0)
    with pytest.raises(tf.errors.OpError, match=r"train-00001-of-00002\.tfrecord.*delete it and rerun"):
        list(dataset)


def test_intact_shards_read_every_video(tmp_path):
    """The byte count that detects damage adds up on intact shards (sizes 1..3 records)."""
    ru.write_index_coded_dataset(tmp_path, [4, 5, 6, 7, 8, 9], split="test", num_shards=3, with_flow=False)
    media_ids = np.concatenate([b[-1] for b in batches(tmp_path, "records", split="test", batch_size=4, training=False)])
    assert sorted(media_ids) == [f"video_{i}".encode() for i in range(6)]


def test_gin_sets_the_source(tmp_path):
    ru.write_index_coded_dataset(tmp_path, [6, 9], num_shards=1, output_format="frames")
    with gin.unlock_config():
        gin.parse_config(["make_dataset.source = 'records'"])
    try:
        with pytest.raises(ValueError, match="source 'records'"):
            make_dataset(str(tmp_path), "train")
    finally:
        gin.clear_config()
