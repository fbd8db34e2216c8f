"""Optical flow between consecutive frames (SPEC §4): TV-L1 or Farneback.

TV-L1 is ``cv2.optflow.DualTVL1OpticalFlow`` with OpenCV's default settings
(those of the TSN/denseflow extraction the paper's numbers rest on: tau 0.25,
lambda 0.15, theta 0.3, 5 scales, 5 warps, epsilon 0.01). Flow t is the
displacement from frame t to frame t+1 in pixels, x to the right, y down, so
T frames give T-1 fields.
"""

import cv2
import numpy as np

FLOW_METHODS = ("tvl1", "farneback", "none")


class FlowEstimator:
    """Computes dense flow for pairs of grey frames with one fixed method.

    Args:
      method: "tvl1" or "farneback".
      tvl1_scales: TV-L1 pyramid levels (OpenCV's default 5).
      tvl1_warps: TV-L1 warps per level (OpenCV's default 5). Fewer scales
        and warps halve the cost on small frames (the toy demo), at some
        accuracy on large motions.
    """

    def __init__(self, method: str = "tvl1", tvl1_scales: int = 5, tvl1_warps: int = 5):
        if method not in ("tvl1", "farneback"):
            raise ValueError(f"method must be 'tvl1' or 'farneback', got {method!r}")
        if tvl1_scales < 1:
            raise ValueError(f"tvl1_scales must be >= 1, got {tvl1_scales}")
        if tvl1_warps < 1:
            raise ValueError(f"tvl1_warps must be >= 1, got {tvl1_warps}")
        self.method = method
        self._tvl1 = None
        if method == "tvl1":
            self._tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
            self._tvl1.setScalesNumber(tvl1_scales)
            self._tvl1.setWarpingsNumber(tvl1_warps)

    def pair(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        """Flow from ``previous`` to ``current``, both uint8 ``[H, W]``.

        Returns:
          float32 ``[H, W, 2]``: (x, y) displacement so that
          ``previous[y, x] ~ current[y + fy, x + fx]``.
        """
        if self._tvl1 is not None:
            return self._tvl1.calc(previous, current, None)
        return cv2.calcOpticalFlowFarneback(
            previous, current, None, pyr_scale=0.5, levels=3, winsize=15,
            iterations=3, poly_n=5, poly_sigma=1.2, flags=0,
        )

    def fields(self, frames: np.ndarray):
        """Yields the T-1 flow fields of a video pair by pair (bounded memory).

        Args:
          frames: uint8 ``[T, H, W, 3]`` BGR or ``[T, H, W]`` grey.

        Yields:
          float32 ``[H, W, 2]``, flow t from frame t to frame t+1.
        """
        previous = to_grey(frames[0])
        for frame in frames[1:]:
            current = to_grey(frame)
            yield self.pair(previous, current)
            previous = current


def to_grey(frame: np.ndarray) -> np.ndarray:
    """uint8 ``[H, W, 3]`` BGR (or already grey ``[H, W]``) -> uint8 ``[H, W]``."""
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
