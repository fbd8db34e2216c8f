"""Motion-compensated flow (SPEC §6; Table 11's "motion-compensated flow" row).

The paper's appendix with the details is not available; SPEC §6 fixes this
design, in the spirit of improved dense trajectories (Wang & Schmid 2013):
per frame pair, the dominant (camera) motion is a homography fitted with
RANSAC (``cv2.findHomography``) to point correspondences read off the flow
field on a regular grid, ``p -> p + flow(p)``. The flow that homography
predicts at every pixel is subtracted; what remains is the motion relative
to the camera, quantised like ordinary flow.
"""

import cv2
import numpy as np

DEFAULT_GRID_STEP = 8
DEFAULT_RANSAC_THRESHOLD = 1.0  # pixels


def _grid(height: int, width: int, step: int) -> np.ndarray:
    """Grid points ``[N, 2]`` (x, y) at ``step`` spacing, ``step / 2`` from the borders."""
    offset = step // 2
    xs = np.arange(offset, width, step)
    ys = np.arange(offset, height, step)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)  # [rows, cols, 2]
    return grid.reshape(-1, 2).astype(np.float32)  # [N, 2]


def fit_camera_homography(
    flow: np.ndarray,
    grid_step: int = DEFAULT_GRID_STEP,
    ransac_threshold: float = DEFAULT_RANSAC_THRESHOLD,
) -> np.ndarray | None:
    """The homography that explains most of a flow field.

    Args:
      flow: float32 ``[H, W, 2]`` displacements (x, y) in pixels.
      grid_step: spacing in pixels of the grid of points the fit uses.
      ransac_threshold: RANSAC inlier distance in pixels.

    Returns:
      float64 ``[3, 3]`` homography mapping frame-t points to frame t+1, or
      None when fewer than 4 points exist or RANSAC finds no model.
    """
    if grid_step < 1:
        raise ValueError(f"grid_step must be >= 1, got {grid_step}")
    height, width = flow.shape[:2]
    source = _grid(height, width, grid_step)  # [N, 2]
    if len(source) < 4:
        return None
    xs, ys = source[:, 0].astype(int), source[:, 1].astype(int)
    target = source + flow[ys, xs]  # [N, 2]
    homography, _ = cv2.findHomography(
        source, target, cv2.RANSAC, ransac_threshold, maxIters=2000, confidence=0.995
    )
    return homography


def homography_flow(homography: np.ndarray, height: int, width: int) -> np.ndarray:
    """The flow ``H p - p`` a homography predicts at every pixel: float32 ``[H, W, 2]``."""
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    points = np.stack([xs, ys, np.ones_like(xs)], axis=-1)  # [H, W, 3]
    mapped = points @ homography.T  # [H, W, 3]
    denominator = mapped[..., 2:]
    denominator = np.where(np.abs(denominator) < 1e-9, 1e-9, denominator)
    return (mapped[..., :2] / denominator - points[..., :2]).astype(np.float32)


def compensate_flow(
    flow: np.ndarray,
    grid_step: int = DEFAULT_GRID_STEP,
    ransac_threshold: float = DEFAULT_RANSAC_THRESHOLD,
) -> np.ndarray:
    """Subtracts the camera motion from flow fields.

    Args:
      flow: float32 ``[H, W, 2]`` or ``[T-1, H, W, 2]``.
      grid_step, ransac_threshold: as in ``fit_camera_homography``.

    Returns:
      float32 array shaped like ``flow``: flow minus the homography's flow per
      field (unchanged where no homography could be fitted).
    """
    flow = np.asarray(flow, np.float32)
    if flow.ndim == 4:
        return np.stack([compensate_flow(f, grid_step, ransac_threshold) for f in flow]) if len(flow) else flow
    if flow.ndim != 3 or flow.shape[-1] != 2:
        raise ValueError(f"flow must be [H, W, 2] or [T, H, W, 2], got shape {flow.shape}")
    homography = fit_camera_homography(flow, grid_step, ransac_threshold)
    if homography is None:
        return flow
    return flow - homography_flow(homography, *flow.shape[:2])
