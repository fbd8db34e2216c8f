"""Motion-compensated flow (SPEC §6): camera motion removed, object motion kept."""

import numpy as np
import pytest

from iastp_tf.data.prepare import compensation, flow as flow_lib, toy

HEIGHT, WIDTH = 48, 64


def _homography_field(homography):
    """Flow H p - p at every pixel, computed here point by point."""
    field = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    for y in range(HEIGHT):
        for x in range(WIDTH):
            u, v, w = homography @ np.array([x, y, 1.0])
            field[y, x] = (u / w - x, v / w - y)
    return field


def test_homography_flow_matches_pointwise_projection():
    homography = np.array([[1.02, 0.01, 1.5], [-0.015, 0.99, -0.7], [1e-4, -2e-4, 1.0]])
    np.testing.assert_allclose(compensation.homography_flow(homography, HEIGHT, WIDTH),
                               _homography_field(homography), atol=1e-4)


def test_exact_camera_motion_is_removed_and_the_object_kept():
    camera = np.array([[1.01, 0.0, -1.2], [0.0, 1.01, 0.8], [0.0, 0.0, 1.0]])  # pan + slight zoom
    flow = _homography_field(camera)
    obj = (slice(10, 24), slice(30, 46))  # rows, cols
    flow[obj] += np.array([2.5, -1.0], np.float32)  # the object's own motion
    compensated = compensation.compensate_flow(flow)
    background = np.ones((HEIGHT, WIDTH), bool)
    background[obj] = False
    assert np.abs(compensated[background]).max() < 0.05
    np.testing.assert_allclose(compensated[obj].reshape(-1, 2).mean(axis=0), [2.5, -1.0], atol=0.05)


def test_sequences_and_degenerate_inputs():
    flow = np.full((3, HEIGHT, WIDTH, 2), 1.5, np.float32)
    assert np.abs(compensation.compensate_flow(flow)).max() < 1e-3
    tiny = np.ones((4, 4, 2), np.float32)  # too few grid points: left as it is
    np.testing.assert_array_equal(compensation.compensate_flow(tiny, grid_step=8), tiny)
    with pytest.raises(ValueError, match="flow"):
        compensation.compensate_flow(np.zeros((HEIGHT, WIDTH)))


def test_tvl1_on_a_panning_video():
    """A rendered video: the camera pans by PAN, the shape moves by VELOCITY in the scene."""
    pan, velocity = (1.2, -0.6), (0.0, 2.0)
    truth = toy.ToyVideo(class_index=2, appearance=1, velocity=velocity, pan=pan)
    frames = toy.render_toy_video(truth, 3, 72, 96, np.random.default_rng(3))
    raw = next(flow_lib.FlowEstimator("tvl1").fields(frames[:2]))  # [H, W, 2]
    compensated = compensation.compensate_flow(raw)

    # Where the shape is: appearance 1 is blue (BGR 255, 140, 60) on a grey background.
    assert toy.COLOURS_BGR[1] == (255, 140, 60)
    shape_mask = frames[0, ..., 0].astype(int) - frames[0, ..., 2] > 100
    core = shape_mask.copy()  # The shape minus a 2-pixel rim, where flow is blurred across the edge.
    for shift, axis in ((2, 0), (-2, 0), (2, 1), (-2, 1)):
        core &= np.roll(shape_mask, shift, axis)
    assert core.sum() > 20
    background = np.ones_like(shape_mask)
    background[np.nonzero(shape_mask)[0].min() - 6 : np.nonzero(shape_mask)[0].max() + 7,
               np.nonzero(shape_mask)[1].min() - 6 : np.nonzero(shape_mask)[1].max() + 7] = False
    background[:6], background[-6:], background[:, :6], background[:, -6:] = False, False, False, False

    # Raw flow: background moves by -pan, the shape by velocity - pan.
    np.testing.assert_allclose(np.median(raw[background], axis=0), [-pan[0], -pan[1]], atol=0.2)
    # Compensated: background still, the shape keeps its motion relative to the scene.
    assert np.abs(np.median(compensated[background], axis=0)).max() < 0.15
    assert np.percentile(np.hypot(*compensated[background].T), 90) < 0.5
    np.testing.assert_allclose(np.median(compensated[core], axis=0), velocity, atol=0.4)
