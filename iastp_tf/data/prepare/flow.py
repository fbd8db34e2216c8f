"""Optical flow between consecutive frames (SPEC §4): TV-L1 or Farneback.

TV-L1 is ``cv2.optflow.DualTVL1OpticalFlow`` with OpenCV's default settings
(those of the TSN/denseflow extraction the paper's numbers rest on: tau 0.25,
lambda 0.15, theta 0.3, 5 scales, 5 warps, epsilon 0.01). Flow t is the
displacement from frame t to frame t+1 in pixels, x to the right, y down, so
T frames give T-1 fields.

"tvl1_tf" is the same TV-L1 in TensorFlow (``tvl1_tf``), run on large batches of
frame pairs from many videos at once by one process (``FlowBatcher``), so that an
accelerator never waits on one video. This module imports TensorFlow only when
such a batcher is made: preparation workers stay free of it.
"""

import collections
import dataclasses
from collections.abc import Hashable

import cv2
import numpy as np

FLOW_METHODS = ("tvl1", "tvl1_tf", "farneback", "none")
BATCHED_METHODS = ("tvl1_tf",)  # Computed by a flow stage in batches across videos, not per video.
TVL1_PRESETS = ("opencv", "denseflow")  # tvl1_tf.OPENCV, tvl1_tf.DENSEFLOW.
DEFAULT_FLOW_BATCH_SIZE = 16


class FlowEstimator:
    """Computes dense flow for pairs of grey frames with one fixed method.

    Args:
      method: "tvl1", "tvl1_tf" (one pair at a time: for a few pairs, such as
        a prediction's; preparation batches it with ``FlowBatcher``) or "farneback".
      tvl1_scales: TV-L1 pyramid levels (OpenCV's default 5).
      tvl1_warps: TV-L1 warps per level (OpenCV's default 5). Fewer scales
        and warps halve the cost on small frames (the toy demo), at some
        accuracy on large motions.
      tvl1_preset: "tvl1_tf" only: "opencv" or "denseflow".
    """

    def __init__(self, method: str = "tvl1", tvl1_scales: int = 5, tvl1_warps: int = 5,
                 tvl1_preset: str = "opencv"):
        if method not in ("tvl1", "tvl1_tf", "farneback"):
            raise ValueError(f"method must be 'tvl1', 'tvl1_tf' or 'farneback', got {method!r}")
        if tvl1_scales < 1:
            raise ValueError(f"tvl1_scales must be >= 1, got {tvl1_scales}")
        if tvl1_warps < 1:
            raise ValueError(f"tvl1_warps must be >= 1, got {tvl1_warps}")
        self.method = method
        self._tvl1 = None
        self._tvl1_tf = None
        if method == "tvl1_tf":
            self._tvl1_tf = tvl1_tf_params(tvl1_preset, tvl1_scales, tvl1_warps)
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
        if self._tvl1_tf is not None:
            return tvl1_tf_batch(previous[None], current[None], self._tvl1_tf, 1)[0]
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


def tvl1_tf_params(preset: str = "opencv", scales: int = 5, warps: int = 5):
    """``tvl1_tf.TVL1Params`` of a preset ("opencv" or "denseflow") with ``scales`` levels and ``warps`` warps."""
    from iastp_tf.data.prepare import tvl1_tf  # pylint: disable=import-outside-toplevel  (TensorFlow)

    presets = {"opencv": tvl1_tf.OPENCV, "denseflow": tvl1_tf.DENSEFLOW}
    if preset not in presets:
        raise ValueError(f"tvl1_preset must be one of {TVL1_PRESETS}, got {preset!r}")
    return dataclasses.replace(presets[preset], nscales=scales, warps=warps)


def tvl1_tf_batch(previous: np.ndarray, current: np.ndarray, params, batch_size: int) -> np.ndarray:
    """TV-L1 (TensorFlow) of up to ``batch_size`` pairs, padded to ``batch_size`` so one program serves every call.

    A pair's field depends on that pair alone, not on the other pairs of the
    batch nor on its place in it (tests check this bit for bit on CPU), so how
    pairs are grouped into batches never changes the output.

    Args:
      previous, current: uint8 or float32 ``[n, H, W]`` grey frames, 1 <= n <= batch_size.
      params: ``tvl1_tf.TVL1Params``.
      batch_size: the padded batch size.

    Returns:
      float32 ``[n, H, W, 2]``.
    """
    from iastp_tf.data.prepare import tvl1_tf  # pylint: disable=import-outside-toplevel  (TensorFlow)

    count = len(previous)
    if not 1 <= count <= batch_size:
        raise ValueError(f"a batch holds 1..{batch_size} pairs, got {count}")
    index = np.minimum(np.arange(batch_size), count - 1)  # Padded with copies of the last pair.
    previous = np.asarray(previous, np.float32)[index]
    current = np.asarray(current, np.float32)[index]
    return tvl1_tf.tvl1_flow(previous, current, params).numpy()[:count]


class FlowBatcher:
    """Collects the frame pairs of many videos and runs TV-L1 (TensorFlow) on full batches.

    Pairs are grouped by frame size (one compiled program per size); a batch
    runs as soon as ``batch_size`` pairs of one size wait, ``flush`` runs the
    rest padded. A video comes back once all its fields are computed.

    Args:
      params: ``tvl1_tf.TVL1Params``.
      batch_size: frame pairs per call (>= 1).
    """

    def __init__(self, params, batch_size: int = DEFAULT_FLOW_BATCH_SIZE):
        if batch_size < 1:
            raise ValueError(f"flow_batch_size must be >= 1, got {batch_size}")
        self.params = params
        self.batch_size = batch_size
        self._grey: dict[Hashable, np.ndarray] = {}
        self._fields: dict[Hashable, list] = {}
        self._waiting: dict[tuple[int, int], collections.deque] = collections.defaultdict(collections.deque)

    def add(self, key: Hashable, grey: np.ndarray) -> list[tuple[Hashable, list[np.ndarray]]]:
        """Queues the T-1 pairs of one video; runs the batches that are full.

        Args:
          key: the video's key (unique among those waiting).
          grey: uint8 ``[T, H, W]`` frames, T >= 2.

        Returns:
          (key, fields) of every video now complete: T-1 float32 ``[H, W, 2]`` fields in order.
        """
        if len(grey) < 2:
            raise ValueError(f"video {key!r}: flow needs at least 2 frames, got {len(grey)}")
        self._grey[key] = grey
        self._fields[key] = [None] * (len(grey) - 1)
        waiting = self._waiting[grey.shape[1:]]
        waiting.extend((key, t) for t in range(len(grey) - 1))
        done = []
        while len(waiting) >= self.batch_size:
            done += self._run(waiting)
        return done

    def flush(self) -> list[tuple[Hashable, list[np.ndarray]]]:
        """Runs every waiting pair (the last batches padded); returns the videos completed."""
        done = []
        for waiting in self._waiting.values():
            while waiting:
                done += self._run(waiting)
        return done

    def _run(self, waiting: collections.deque) -> list[tuple[Hashable, list[np.ndarray]]]:
        pairs = [waiting.popleft() for _ in range(min(self.batch_size, len(waiting)))]
        previous = np.stack([self._grey[key][t] for key, t in pairs])  # [n, H, W]
        current = np.stack([self._grey[key][t + 1] for key, t in pairs])
        fields = tvl1_tf_batch(previous, current, self.params, self.batch_size)  # [n, H, W, 2]
        done = []
        for (key, t), field in zip(pairs, fields):
            self._fields[key][t] = field
            if t == len(self._fields[key]) - 1:  # A video's pairs wait in order: its last one ends it.
                done.append((key, self._fields.pop(key)))
                del self._grey[key]
        return done
