"""Parsing a record and decoding JPEGs, against OpenCV and NumPy slicing."""

import cv2
import numpy as np
import tensorflow as tf

from iastp_tf.data import decoder
from iastp_tf.data.prepare import records


def _record(frames, labels=(3,)):
    jpegs = [records.encode_jpeg(f) for f in frames]
    fields = [records.encode_jpeg(f[..., 0]) for f in frames[1:]]
    return jpegs, records.VideoRecord(
        media_id="clips/a", label_indices=list(labels), label_names=[f"c{i}" for i in labels],
        frame_rate=30.0, height=frames.shape[1], width=frames.shape[2],
        frames=jpegs, flow_x=fields, flow_y=fields,
    ).serialize()


def test_parse_video_returns_ids_labels_and_jpeg_planes():
    frames = np.random.default_rng(0).integers(0, 256, size=(4, 16, 24, 3), dtype=np.uint8)
    jpegs, serialized = _record(frames, labels=(3, 7))
    video = decoder.parse_video(tf.constant(serialized), ("rgb", "flow"))
    assert video["media_id"].numpy() == b"clips/a"
    np.testing.assert_array_equal(video["labels"].numpy(), [3, 7])
    assert video["rgb"].shape == (1, 4) and video["flow"].shape == (2, 3)
    assert list(video["rgb"].numpy()[0]) == jpegs
    assert list(video["flow"].numpy()[0]) == [records.encode_jpeg(f[..., 0]) for f in frames[1:]]


def test_parse_video_parses_only_the_requested_modalities():
    frames = np.random.default_rng(0).integers(0, 256, size=(3, 8, 8, 3), dtype=np.uint8)
    _, serialized = _record(frames)
    video = decoder.parse_video(tf.constant(serialized), ("flow",))
    assert set(video) == {"media_id", "labels", "frame_size", "flow"}
    np.testing.assert_array_equal(video["frame_size"], [8, 8])


def test_decode_jpegs_gathers_indices_and_crops_like_opencv():
    rng = np.random.default_rng(1)
    frames = np.clip(rng.normal(128, 40, size=(5, 32, 48, 3)), 0, 255).astype(np.uint8)
    jpegs, _ = _record(frames)
    reference = [cv2.cvtColor(cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for j in jpegs]
    chosen = tf.constant([jpegs[i] for i in (4, 0, 2, 2)])
    whole = decoder.decode_jpegs(chosen, 3).numpy()
    assert whole.shape == (4, 32, 48, 3) and whole.dtype == np.uint8
    for got, index in zip(whole, [4, 0, 2, 2]):
        assert np.abs(got.astype(int) - reference[index]).mean() < 2  # libjpeg vs OpenCV's IDCT
    cropped = decoder.decode_jpegs(chosen, 3, window=tf.constant([8, 16, 16, 24])).numpy()
    expected = whole[:, 8:24, 16:40]
    # Inside the window decode-and-crop is exact; libjpeg upsamples the chroma of
    # the window's outermost columns from fewer neighbours, so those differ a little.
    np.testing.assert_array_equal(cropped[:, :, 1:-1], expected[:, :, 1:-1])
    assert np.abs(cropped.astype(int) - expected).mean() < 1
