"""make_dataset on small index-coded records (see records_util): shapes, labels, which frames."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.data.pipeline import make_dataset
from iastp_tf.data.prepare import records
from tests.data import records_util as ru

SIZE = 32  # network input S for the tiny backbone in these tests


def tsn_test_offsets(num_frames, num_segments, new_length):
    span = max(num_frames - new_length + 1, 1)
    tick = span / float(num_segments)
    return [int(tick / 2.0 + tick * k) for k in range(num_segments)]


def as_pixels(frames):
    """Frames (0..255, the model normalises) averaged over space: [..., C]."""
    return np.asarray(frames).mean(axis=(-3, -2))


def video_number(media_id):
    return int(media_id.decode().split("_")[-1])


def test_training_clips_share_indices_across_modalities(tmp_path):
    num_frames = [12, 20, 7, 3, 30]
    ru.write_index_coded_dataset(tmp_path, num_frames)
    dataset = make_dataset(
        str(tmp_path), "train", modality=("rgb", "flow"), batch_size=5, input_size=SIZE, seed=3
    )
    (frames, labels), = list(dataset)
    assert frames["rgb"].shape == (5, 3, SIZE, SIZE, 3) and frames["rgb"].dtype == tf.float32
    assert frames["flow"].shape == (5, 3, SIZE, SIZE, 10) and frames["flow"].dtype == tf.float32
    assert labels.dtype == tf.int32 and sorted(labels.numpy()) == [0, 1, 2, 3, 4]
    for rgb, flow, label in zip(as_pixels(frames["rgb"]), as_pixels(frames["flow"]), labels.numpy()):
        fields = num_frames[label] - 1  # shared indices are drawn over the flow fields, L = 5
        starts = ru.frame_index(flow[:, 1], ru.FLOW_Y_BASE)  # y of the first field of each snippet
        span = max(fields - 5 + 1, 1)
        average = span // 3
        if average > 0:
            assert np.all((starts >= np.arange(3) * average) & (starts < np.arange(3) * average + average))
        elif fields > 3:
            assert np.all(np.diff(starts) >= 0) and starts.max() < span
        else:
            np.testing.assert_array_equal(starts, 0)
        expected = np.minimum(starts[:, None] + np.arange(5), fields - 1)  # [K, L], last field repeated
        np.testing.assert_array_equal(ru.frame_index(flow[:, 1::2], ru.FLOW_Y_BASE), expected)
        # x as recorded: the training flip is the model's (FramePreprocessing), not the pipeline's.
        np.testing.assert_allclose(flow[:, 0::2], ru.FLOW_X_BASE + ru.STEP * expected, atol=3)
        np.testing.assert_array_equal(ru.frame_index(rgb[:, 0], ru.RGB_BASE), starts)  # R of frame t


@pytest.mark.parametrize("modality,source", [("rgb", "records"), (("rgb", "flow"), "records"), (("rgb", "flow"), "frames")])
def test_test_clips_decode_only_the_chosen_frames(tmp_path, modality, source):
    """Every JPEG (record entry or frame file) the TSN test sampler does not choose is corrupt, and nothing fails."""
    num_frames, num_segments = [12, 25, 9], 4
    with_flow = modality != "rgb"
    chosen_counts = [n - 1 if with_flow else n for n in num_frames]
    new_length = 5 if with_flow else 1
    starts = [tsn_test_offsets(n, num_segments, new_length) for n in chosen_counts]
    chosen = {
        (v, "rgb", t) for v, offsets in enumerate(starts) for t in offsets
    } | {
        (v, "flow", min(t + step, chosen_counts[v] - 1))
        for v, offsets in enumerate(starts) for t in offsets for step in range(5)
    }
    ru.write_index_coded_dataset(
        tmp_path, num_frames, split="test", with_flow=with_flow,
        keep=lambda video, m, t: (video, m, t) in chosen, output_format=source,
    )
    dataset = make_dataset(
        str(tmp_path), "test", modality=modality, batch_size=2, num_segments=num_segments,
        input_size=SIZE, training=False, source=source,
    )
    seen = []
    for frames, labels, media_ids in dataset:
        rgb = frames["rgb"] if with_flow else frames
        assert rgb.shape[1:] == (1, num_segments, SIZE, SIZE, 3)
        for clip, label, media_id in zip(as_pixels(rgb), labels.numpy(), media_ids.numpy()):
            video = video_number(media_id)
            assert label == video
            np.testing.assert_array_equal(ru.frame_index(clip[0, :, 0], ru.RGB_BASE), starts[video])
            seen.append(video)
        if with_flow:
            for snippet, media_id in zip(as_pixels(frames["flow"]), media_ids.numpy()):
                video = video_number(media_id)
                expected = np.minimum(np.array(starts[video])[:, None] + np.arange(5), chosen_counts[video] - 1)
                np.testing.assert_array_equal(ru.frame_index(snippet[0, :, 0::2], ru.FLOW_X_BASE), expected)
    assert sorted(seen) == [0, 1, 2]


def test_ten_crops_flip_the_last_five_views(tmp_path):
    ru.write_index_coded_dataset(tmp_path, [10, 16], split="test", num_shards=1)
    dataset = make_dataset(
        str(tmp_path), "test", modality=("rgb", "flow"), batch_size=2, num_segments=2,
        input_size=SIZE, training=False, test_crops=10,
    )
    (frames, labels, media_ids), = list(dataset)
    assert frames["rgb"].shape == (2, 10, 2, SIZE, SIZE, 3)
    flow = as_pixels(frames["flow"])  # [B, V, K, 10]
    np.testing.assert_allclose(flow[:, 5:, :, 0::2], 255 - flow[:, :5, :, 0::2], atol=1e-3)
    np.testing.assert_allclose(flow[:, 5:, :, 1::2], flow[:, :5, :, 1::2], atol=1e-3)
    np.testing.assert_allclose(as_pixels(frames["rgb"])[:, 1:], as_pixels(frames["rgb"])[:, :1].repeat(9, 1), atol=1e-3)
    assert list(media_ids.numpy()) == [b"video_0", b"video_1"]


def test_ten_crops_are_the_corners_and_centre(tmp_path):
    """A frame whose red encodes the column and green the row shows where each crop lies."""
    height, width = 64, 96
    rows, columns = np.mgrid[0:height, 0:width]
    bgr = np.stack([np.full_like(rows, 128), 3 * rows, 2 * columns], axis=-1).astype(np.uint8)
    # dataset.json and one shard, whose record is then replaced by the gradient video.
    ru.write_index_coded_dataset(tmp_path, [2], split="test", num_shards=1, size=(height, width), with_flow=False)
    record = records.VideoRecord(
        media_id="gradient", label_indices=[0], label_names=["class_0"], frame_rate=25.0,
        height=height, width=width, frames=[records.encode_jpeg(bgr)] * 2,
    )
    records.write_tfrecord(str(tmp_path / "test-00000-of-00001.tfrecord"), [record.serialize()])
    dataset = make_dataset(
        str(tmp_path), "test", batch_size=1, num_segments=1, input_size=SIZE, training=False, test_crops=10
    )
    (frames, _, _), = list(dataset)
    views = frames.numpy()[0, :, 0]  # [10, S, S, 3]
    side = int(0.875 * height)  # 56: 224/256 of the short side
    h_step, w_step = (height - side) // 4, (width - side) // 4
    corners = [(0, 0), (0, 4 * w_step), (4 * h_step, 0), (4 * h_step, 4 * w_step), (2 * h_step, 2 * w_step)]
    centre_column = np.array([x + (side - 1) / 2 for _, x in corners] * 2)
    centre_row = np.array([y + (side - 1) / 2 for y, _ in corners] * 2)
    pixels = as_pixels(views)  # [10, 3]
    np.testing.assert_allclose(pixels[:, 0] / 2, centre_column, atol=1.5)
    np.testing.assert_allclose(pixels[:, 1] / 3, centre_row, atol=1.5)
    np.testing.assert_allclose(views[5:], views[:5, :, ::-1], atol=1e-5)  # the flips of the first five


def test_dense_test_clips_wrap_and_multiply_views(tmp_path):
    ru.write_index_coded_dataset(tmp_path, [20], split="test", num_shards=1, with_flow=False)
    dataset = make_dataset(
        str(tmp_path), "test", batch_size=1, num_segments=4, sampling="dense", frame_stride=6,
        num_clips=3, input_size=SIZE, training=False, test_crops=10,
    )
    (frames, _, _), = list(dataset)
    assert frames.shape == (1, 30, 4, SIZE, SIZE, 3)  # 3 clips x 10 crops, clip-major
    last_start = max(0, 20 - 4 * 6)  # 0: every clip starts at 0 and wraps
    starts = np.linspace(0, last_start, 3, dtype=int)
    expected = (starts[:, None] + 6 * np.arange(4)) % 20  # [[0, 6, 12, 18]] * 3
    indices = ru.frame_index(as_pixels(frames)[0, :, :, 0], ru.RGB_BASE).reshape(3, 10, 4)
    np.testing.assert_array_equal(indices, np.repeat(expected[:, None], 10, axis=1))


def test_dense_training_clip_and_single_segment(tmp_path):
    ru.write_index_coded_dataset(tmp_path, [30, 9], with_flow=False)
    dense = make_dataset(
        str(tmp_path), "train", batch_size=2, num_segments=8, sampling="dense", frame_stride=2,
        input_size=SIZE, seed=0,
    )
    (frames, labels), = list(dense)
    assert frames.shape == (2, 8, SIZE, SIZE, 3)
    for clip, label in zip(as_pixels(frames), labels.numpy()):
        indices = ru.frame_index(clip[:, 0], ru.RGB_BASE)
        count = [30, 9][label]
        np.testing.assert_array_equal(np.diff(indices) % count, 2)  # stride 2, wrapping mod T
        assert indices[0] <= max(0, count - 16)
    single = make_dataset(str(tmp_path), "train", batch_size=2, num_segments=1, input_size=SIZE)
    assert next(iter(single))[0].shape == (2, 1, SIZE, SIZE, 3)


def test_multi_label_and_motion_compensated_flow(tmp_path):
    ru.write_index_coded_dataset(tmp_path, [8, 9, 10], multi_label=True, with_flow_mc=True, num_shards=1)
    dataset = make_dataset(
        str(tmp_path), "train", modality="flow_mc", batch_size=3, num_segments=2, input_size=SIZE
    )
    (frames, labels), = list(dataset)
    assert frames.shape == (3, 2, SIZE, SIZE, 10)
    assert labels.dtype == tf.float32 and labels.shape == (3, 3)
    np.testing.assert_array_equal(labels.numpy().sum(axis=1), [2, 2, 2])
    y = as_pixels(frames)[..., 1::2]  # y of motion-compensated fields: 252 - 8 t
    assert np.all(np.abs((ru.FLOW_MC_Y_TOP - y) / ru.STEP - np.rint((ru.FLOW_MC_Y_TOP - y) / ru.STEP)) < 0.3)
    single = make_dataset(str(tmp_path), "train", batch_size=3, input_size=SIZE, multi_label=False)
    assert next(iter(single))[1].dtype == tf.int32


def test_same_seed_same_batches(tmp_path):
    ru.write_index_coded_dataset(tmp_path, [12, 20, 7, 15], with_flow=False)
    first, second = (
        [f.numpy() for f, _ in make_dataset(str(tmp_path), "train", batch_size=2, input_size=SIZE, seed=5)]
        for _ in range(2)
    )
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"modality": "flow"}, "flow"),
        ({"modality": ("rgb", "flow_mc")}, "flow"),
        ({"modality": "depth"}, "modality"),
        ({"split": "validation"}, "split"),
        ({"sampling": "uniform"}, "sampling"),
        ({"test_crops": 5}, "test_crops"),
        ({"num_segments": 0}, "num_segments"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_arguments_raise_value_error(tmp_path, kwargs, message):
    ru.write_index_coded_dataset(tmp_path, [5], with_flow=False, num_shards=1)
    arguments = {"data_dir": str(tmp_path), "split": "train"} | kwargs
    with pytest.raises(ValueError, match=message):
        make_dataset(**arguments)


def test_missing_dataset_json_raises(tmp_path):
    with pytest.raises(ValueError, match="dataset.json"):
        make_dataset(str(tmp_path), "train")


def test_gin_configures_make_dataset(tmp_path):
    ru.write_index_coded_dataset(tmp_path, [6, 9], with_flow=False, num_shards=1)
    with gin.unlock_config():
        gin.parse_config(["make_dataset.num_segments = 1", f"make_dataset.input_size = {SIZE}"])
    try:
        frames, _ = next(iter(make_dataset(str(tmp_path), "train", batch_size=2)))
    finally:
        gin.clear_config()
    assert frames.shape == (2, 1, SIZE, SIZE, 3)


def test_motion_compensated_flow_missing_raises(tmp_path):
    ru.write_index_coded_dataset(tmp_path, [5], with_flow=True, with_flow_mc=False, num_shards=1)
    with pytest.raises(ValueError, match="motion-compensated"):
        make_dataset(str(tmp_path), "train", modality="flow_mc")
