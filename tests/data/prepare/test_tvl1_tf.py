"""TV-L1 in TensorFlow against OpenCV's cv2.optflow TV-L1 and its building blocks.

One small solver setting (SMALL) and one frame size keep XLA compiles to two
(batch of 3, batch of 1); the primitives are checked eagerly against cv2.
"""

import dataclasses

import cv2
import numpy as np
import pytest
import tensorflow as tf

from iastp_tf.data.prepare import records, toy
from iastp_tf.data.prepare import tvl1_tf

HEIGHT, WIDTH = 72, 96
SMALL = tvl1_tf.TVL1Params(nscales=2, warps=3, inner_iterations=10, outer_iterations=3)
# (x, y) px, the known motion of the third pair. Half-pixel fractions: OpenCV's TV-L1 itself
# pulls other fractions towards whole pixels (a 0.3 px shift comes out as 0.26 px, see README).
SHIFT = (1.5, -0.5)


def _texture(x, y):
    """A smooth, richly textured pattern defined everywhere (grey levels ~30..225)."""
    return (128 + 40 * np.sin(0.31 * x + 0.5) * np.cos(0.23 * y) + 30 * np.sin(0.17 * x - 0.29 * y + 1.0)
            + 25 * np.cos(0.41 * y + 0.13 * x)).astype(np.float32)


@pytest.fixture(scope="module")
def pairs():
    """float32 ``[3, H, W]`` previous and current: two toy pairs, then a translation by SHIFT."""
    video = toy.render_toy_video(toy.ToyVideo(0, 2, (2.4, 0.9), (0.6, -0.3)), 3, HEIGHT, WIDTH,
                                 np.random.default_rng(0))
    grey = np.stack([cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) for frame in video]).astype(np.float32)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    # previous(p) = current(p + SHIFT): the scene moved by SHIFT.
    shifted_previous, shifted_current = _texture(x, y), _texture(x - SHIFT[0], y - SHIFT[1])
    return (np.stack([grey[0], grey[1], shifted_previous]), np.stack([grey[1], grey[2], shifted_current]))


@pytest.fixture(scope="module")
def batch_flow(pairs):
    return tvl1_tf.tvl1_flow(*pairs, SMALL).numpy()  # eager: the cached XLA program


def test_params_validate_and_presets():
    assert tvl1_tf.OPENCV == tvl1_tf.TVL1Params(0.25, 0.15, 0.3, 5, 5, 0.01, 30, 10, 0.8, 0.0, 5)
    assert (tvl1_tf.DENSEFLOW.inner_iterations, tvl1_tf.DENSEFLOW.outer_iterations,
            tvl1_tf.DENSEFLOW.median_filtering) == (300, 1, 1)
    opencv = tvl1_tf.OPENCV.create_opencv()
    assert (opencv.getTau(), opencv.getLambda(), opencv.getScalesNumber(), opencv.getInnerIterations(),
            opencv.getMedianFiltering()) == (0.25, 0.15, 5, 30, 5)
    for bad in (dict(scale_step=1.0), dict(warps=0), dict(gamma=0.1), dict(median_filtering=4), dict(tau=0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            tvl1_tf.TVL1Params(**bad)


def test_pyramid_sizes_are_opencvs():
    image = np.zeros((256, 340), np.float32)
    expected = [image.shape]
    for _ in range(4):
        image = cv2.resize(image, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_LINEAR)
        expected.append(image.shape)
    assert tvl1_tf.level_sizes(256, 340) == expected
    assert tvl1_tf.level_sizes(40, 60) == [(40, 60), (32, 48), (26, 38), (21, 30), (17, 24)]
    assert tvl1_tf.level_sizes(24, 60) == [(24, 60), (19, 48)]  # the next level would be 15 px high


def test_resize_matches_opencv():
    image = np.random.default_rng(1).uniform(0, 255, (HEIGHT, WIDTH)).astype(np.float32)
    down = cv2.resize(image, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(tvl1_tf.resize_linear(image[None], down.shape, 0.8)[0], down, atol=1e-3)
    up = cv2.resize(down, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(tvl1_tf.resize_linear(down[None], (HEIGHT, WIDTH))[0], up, atol=1e-3)


def test_bicubic_remap_matches_opencv_inside_and_across_the_border():
    rng = np.random.default_rng(2)
    image = rng.uniform(0, 255, (HEIGHT, WIDTH)).astype(np.float32)
    map_x = (np.arange(WIDTH)[None, :] + rng.normal(0, 3, (HEIGHT, WIDTH))).astype(np.float32)
    map_y = (np.arange(HEIGHT)[:, None] + rng.normal(0, 3, (HEIGHT, WIDTH))).astype(np.float32)
    expected = cv2.remap(image, map_x, map_y, cv2.INTER_CUBIC)  # BORDER_CONSTANT 0, as tvl1flow.cpp
    got = tvl1_tf.remap_cubic(np.stack([image, 2 * image], -1)[None], map_x[None], map_y[None])[0]
    np.testing.assert_allclose(got[..., 0], expected, atol=2e-3)
    np.testing.assert_allclose(got[..., 1], 2 * expected, atol=4e-3)


@pytest.mark.parametrize("ksize", [3, 5])
def test_median_matches_opencv_with_ties(ksize):
    flow = np.round(np.random.default_rng(3).normal(0, 2, (2, HEIGHT, WIDTH)), 1).astype(np.float32)
    got = tvl1_tf.median_blur(flow, ksize).numpy()
    for image, result in zip(flow, got):
        np.testing.assert_array_equal(result, cv2.medianBlur(image, ksize))


def test_flow_matches_opencv_on_toy_frames(pairs, batch_flow):
    opencv = SMALL.create_opencv()
    # float32 input 0..1: OpenCV scales it by 255 (the texture pair is not whole grey levels).
    expected = np.stack([opencv.calc(a / 255, b / 255, None) for a, b in zip(*pairs)])
    assert np.abs(expected[:2]).max() > 1.5  # the toy shape does move
    end_point_error = np.linalg.norm(batch_flow - expected, axis=-1)
    levels = np.abs(records.quantize_flow(batch_flow).astype(int) - records.quantize_flow(expected).astype(int))
    # Measured: mean EPE 2e-6 px, max 4e-5 px, every pixel within one level.
    assert end_point_error.mean() < 1e-4 and end_point_error.max() < 0.01, end_point_error.max()
    assert (levels <= 1).all()
    # The stopping rule fires on these pairs: without it OpenCV's own flow moves by far more.
    no_stopping = dataclasses.replace(SMALL, epsilon=0.0).create_opencv()
    unstopped = np.stack([no_stopping.calc(a / 255, b / 255, None) for a, b in zip(*pairs)])
    assert np.linalg.norm(unstopped - expected, axis=-1).mean() > 10 * end_point_error.mean()


def test_recovers_a_subpixel_translation(batch_flow):
    inside = batch_flow[2, 10:-10, 10:-10]  # measured: max error 0.033 px here, 0.053 px 8 px from the border
    np.testing.assert_allclose(inside[..., 0], SHIFT[0], atol=0.05)
    np.testing.assert_allclose(inside[..., 1], SHIFT[1], atol=0.05)


def test_batch_equals_single_runs(pairs, batch_flow):
    previous, current = pairs
    singles = np.concatenate([tvl1_tf.tvl1_flow(previous[i:i + 1], current[i:i + 1], SMALL).numpy()
                              for i in range(len(previous))])
    np.testing.assert_allclose(singles, batch_flow, atol=1e-5)


def test_xla_equals_no_xla(pairs, batch_flow):
    graph = tf.function(lambda previous, current: tvl1_tf.tvl1_flow(previous, current, SMALL), autograph=False)
    difference = np.linalg.norm(graph(*pairs).numpy() - batch_flow, axis=-1)
    # Float round-off (XLA fuses multiply-adds) grows at a few border pixels; measured mean ~1e-5 px.
    assert difference.mean() < 1e-4 and (difference < 1e-3).mean() > 0.99, (difference.mean(), difference.max())


def test_flow_fields_pads_the_last_batch_and_converts_to_grey(pairs, batch_flow):
    video = toy.render_toy_video(toy.ToyVideo(0, 2, (2.4, 0.9), (0.6, -0.3)), 3, HEIGHT, WIDTH,
                                 np.random.default_rng(0))
    fields = list(tvl1_tf.flow_fields(video, SMALL, batch_size=3))  # 2 pairs padded to 3
    assert len(fields) == 2 and fields[0].shape == (HEIGHT, WIDTH, 2)
    np.testing.assert_allclose(np.stack(fields), batch_flow[:2], atol=1e-5)
    assert list(tvl1_tf.flow_fields(video[:1], SMALL)) == []
    with pytest.raises(ValueError, match="batch_size"):
        next(tvl1_tf.flow_fields(video, SMALL, batch_size=0))


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match="previous"):
        tvl1_tf.tvl1_flow(np.zeros((HEIGHT, WIDTH), np.float32), np.zeros((HEIGHT, WIDTH), np.float32))
    with pytest.raises(ValueError, match="current"):
        tvl1_tf.tvl1_flow(np.zeros((1, HEIGHT, WIDTH), np.float32), np.zeros((1, HEIGHT, 8), np.float32))

