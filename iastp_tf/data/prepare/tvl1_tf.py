r"""TV-L1 optical flow in TensorFlow: batched, XLA-compiled, on CPU or GPU.

A step-by-step port of OpenCV's ``cv::optflow::DualTVL1OpticalFlow`` (opencv_contrib
``modules/optflow/src/tvl1flow.cpp``; Zach, Pock & Bischof 2007, in the form of
Sanchez, Meinhardt-Llopis & Facciolo), run on N frame pairs at once so that one
XLA program keeps an accelerator busy. Per pair, as in ``calc`` and ``procOneScale``:

1. Pyramid: ``nscales`` levels, each ``resize(INTER_LINEAR)`` of the previous by
   ``scale_step`` (sizes rounded half to even, as ``saturate_cast<int>``), stopping
   before a level narrower or lower than 16 px. The flow starts at 0 on the coarsest
   level; after each level it is resized (INTER_LINEAR) to the next finer size and
   multiplied by ``1 / scale_step``.
2. Per level: centred-difference gradients of I1 (one-sided at the border, still
   halved), p = 0; then ``warps`` times:
   a. bicubic ``remap`` of I1, I1x, I1y at x + u (BORDER_CONSTANT 0, the default
      tvl1flow.cpp leaves), cubic kernel A = -0.75 at the exact fractional position
      as OpenCV 5 does (OpenCV 4.x first rounded positions to 1/32 px, INTER_BITS = 5);
   b. ``grad = I1wx^2 + I1wy^2``, ``rho_c = I1w - I1wx u1 - I1wy u2 - I0``;
   c. up to ``outer_iterations`` times: a ``median_filtering``-sized median of u1, u2
      (replicated border), then up to ``inner_iterations`` times:
        - thresholding (TH): ``rho = rho_c + I1wx u1 + I1wy u2``;
          ``v = u + l_t grad(I1w)`` if ``rho < -l_t |grad|^2``, ``- l_t grad(I1w)`` if
          ``rho > l_t |grad|^2``, else ``- rho grad(I1w) / |grad|^2``, with
          ``l_t = lambda theta``;
        - ``u = v + theta div(p)`` (backward differences, p = 0 outside);
        - ``p = (p + taut grad(u)) / (1 + taut |grad(u)|)`` (forward differences,
          0 on the last row/column), ``taut = tau / theta``;
      both loops stop for a pair once the sum of squared updates of u over the level
      is at most ``epsilon^2 * area`` (the mean squared update at most epsilon^2);
      the pair's state is then frozen while the others in the batch go on.

Resize, remap and median were checked against cv2 5.0 (the first two to float32
round-off, the median exactly). Where the whole is not bit-exact: XLA fuses
multiply-adds and sums in another order than OpenCV's C++, and the iterations
amplify that round-off at a few pixels; the measured gap to ``cv2.optflow`` is in
the README ("Optical flow methods"). ``gamma`` (the illumination term) and
``useInitialFlow`` are not implemented.
"""

import dataclasses
import functools
from typing import Iterator, Sequence

import numpy as np
import tensorflow as tf

from iastp_tf.data.prepare import flow as flow_lib

_MIN_LEVEL_SIZE = 16  # tvl1flow.cpp stops the pyramid before a side under 16 px.
_FLT_EPSILON = float(np.finfo(np.float32).eps)


@dataclasses.dataclass(frozen=True)
class TVL1Params:
    """The parameters of OpenCV's ``DualTVL1OpticalFlow``, with its defaults.

    Attributes:
      tau: time step of the numerical scheme.
      lambda_: weight of the data term (OpenCV's ``lambda``).
      theta: coupling between the flow u and its auxiliary variable v.
      nscales: pyramid levels (fewer when a level would fall under 16 px).
      warps: warpings of I1 per level.
      epsilon: stop once the mean squared update of u is at most epsilon^2.
      inner_iterations: iterations between median filters.
      outer_iterations: median filters (and inner loops) per warp.
      scale_step: pyramid scale factor between levels, in (0, 1).
      gamma: weight of the illumination term; only 0 is supported.
      median_filtering: median filter size applied to u per outer iteration;
        1 turns it off (OpenCV: off for any value <= 1), else 3 or 5.
    """

    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    nscales: int = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    gamma: float = 0.0
    median_filtering: int = 5

    def __post_init__(self):
        for name in ("tau", "lambda_", "theta"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("nscales", "warps", "inner_iterations", "outer_iterations"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {getattr(self, name)}")
        if self.epsilon < 0:
            raise ValueError(f"epsilon must be >= 0, got {self.epsilon}")
        if not 0 < self.scale_step < 1:
            raise ValueError(f"scale_step must be in (0, 1), got {self.scale_step}")
        if self.gamma != 0:
            raise ValueError(f"gamma must be 0 (the illumination term is not implemented), got {self.gamma}")
        if self.median_filtering > 1 and self.median_filtering not in (3, 5):
            raise ValueError(f"median_filtering must be <= 1 (off), 3 or 5, got {self.median_filtering}")

    def create_opencv(self):
        """The same settings as a ``cv2.optflow.DualTVL1OpticalFlow`` (CPU) object."""
        import cv2  # pylint: disable=import-outside-toplevel  (only callers comparing with OpenCV need it)

        return cv2.optflow.DualTVL1OpticalFlow_create(
            tau=self.tau, lambda_=self.lambda_, theta=self.theta, nscales=self.nscales, warps=self.warps,
            epsilon=self.epsilon, innnerIterations=self.inner_iterations,
            outerIterations=self.outer_iterations, scaleStep=self.scale_step, gamma=self.gamma,
            medianFiltering=self.median_filtering)


OPENCV = TVL1Params()
"""``cv2.optflow.DualTVL1OpticalFlow_create()`` defaults (tvl1flow.cpp's constructor)."""

DENSEFLOW = TVL1Params(inner_iterations=300, outer_iterations=1, median_filtering=1)
"""OpenCV's CUDA ``cv::cuda::OpticalFlowDual_TVL1::create()`` defaults, which denseflow and
dense_flow (TSN) use unchanged (``cv::cuda::OpticalFlowDual_TVL1::create()`` with no arguments):
opencv_contrib ``modules/cudaoptflow/include/opencv2/cudaoptflow.hpp`` gives tau 0.25,
lambda 0.15, theta 0.3, nscales 5, warps 5, epsilon 0.01, iterations 300, scaleStep 0.8,
gamma 0; ``modules/cudaoptflow/src/tvl1flow.cpp`` runs one loop of ``iterations`` per warp
with no median filter. Differences that remain: the CUDA loop checks the stopping rule only
on some odd iterations (after measuring an error E it skips about E / (epsilon^2 area)
iterations), so it may run a few iterations past the point where this one stops, and it
samples I1 with its own bicubic texture code on float coordinates."""


def level_sizes(height: int, width: int, params: TVL1Params = OPENCV) -> list[tuple[int, int]]:
    """(height, width) of each pyramid level, finest first, as tvl1flow.cpp builds them."""
    sizes = [(height, width)]
    for _ in range(1, params.nscales):
        previous_h, previous_w = sizes[-1]
        # cv::resize with fx = fy = scale_step: Size(saturate_cast<int>(w * fx), ...), round half to even.
        size = (round(previous_h * params.scale_step), round(previous_w * params.scale_step))
        if min(size) < _MIN_LEVEL_SIZE:
            break
        sizes.append(size)
    return sizes


def _linear_taps(source: int, target: int, scale: float):
    """cv::resize INTER_LINEAR taps along one axis: (index0, index1, weight0, weight1).

    ``scale`` is OpenCV's ``1 / inv_scale`` (source pixels per target pixel); border
    pixels use the edge value alone, as resize's xofs/alpha set-up does.
    """
    position = (np.arange(target, dtype=np.float64) + 0.5) * scale - 0.5
    index = np.floor(position).astype(np.int64)
    fraction = (position - index).astype(np.float32)  # OpenCV 5 keeps the position in double
    low, high = index < 0, index >= source - 1
    fraction[low | high] = 0
    index = np.clip(index, 0, source - 1)
    return (index.astype(np.int32), np.minimum(index + 1, source - 1).astype(np.int32),
            (np.float32(1) - fraction).astype(np.float32), fraction)


def resize_linear(images: tf.Tensor, size: Sequence[int], scale: float | None = None) -> tf.Tensor:
    """``cv2.resize(..., INTER_LINEAR)`` of float32 ``[N, H, W]`` images to ``size`` (h, w).

    Args:
      images: float32 ``[N, H, W]``.
      size: (target height, target width).
      scale: the ``fx = fy`` factor OpenCV was given; None when it was given a size.

    Returns:
      float32 ``[N, h, w]``: horizontal pass, then vertical, as OpenCV's resizeGeneric.
    """
    height, width = images.shape[1], images.shape[2]
    target_h, target_w = size
    scale_y = 1.0 / scale if scale else 1.0 / (target_h / height)
    scale_x = 1.0 / scale if scale else 1.0 / (target_w / width)
    x0, x1, wx0, wx1 = _linear_taps(width, target_w, scale_x)
    rows = tf.gather(images, x0, axis=2) * wx0 + tf.gather(images, x1, axis=2) * wx1  # [N, H, w]
    y0, y1, wy0, wy1 = _linear_taps(height, target_h, scale_y)
    return tf.gather(rows, y0, axis=1) * wy0[:, None] + tf.gather(rows, y1, axis=1) * wy1[:, None]


def _cubic_weights(fraction):
    """OpenCV's interpolateCubic (A = -0.75): ``[...]`` fractions in [0, 1) -> ``[..., 4]`` weights."""
    a = -0.75
    x = fraction
    c0 = ((a * (x + 1.0) - 5.0 * a) * (x + 1.0) + 8.0 * a) * (x + 1.0) - 4.0 * a
    c1 = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    c2 = ((a + 2.0) * (1.0 - x) - (a + 3.0)) * (1.0 - x) * (1.0 - x) + 1.0
    return tf.stack([c0, c1, c2, 1.0 - c0 - c1 - c2], axis=-1)


def remap_cubic(images: tf.Tensor, map_x: tf.Tensor, map_y: tf.Tensor) -> tf.Tensor:
    """``cv2.remap(images, map_x, map_y, INTER_CUBIC)`` with BORDER_CONSTANT 0, batched.

    As OpenCV 5's remap: the 4x4 neighbours of ``floor(x), floor(y)`` weighted by the
    cubic kernel at the exact fractional position; neighbours outside the image count
    as 0. (OpenCV 4.x first rounded coordinates to 1/32 px and read a weight table.)

    Args:
      images: float32 ``[N, H, W, C]``, C channels sampled at the same points.
      map_x, map_y: float32 ``[N, H, W]`` source coordinates in pixels.

    Returns:
      float32 ``[N, H, W, C]``.
    """
    batch, height, width, channels = images.shape

    def taps(coordinate, size):
        # Far-away points only need to stay far away; this keeps int32 safe.
        coordinate = tf.clip_by_value(coordinate, -8.0, size + 8.0)
        whole = tf.floor(coordinate)
        weights = _cubic_weights(coordinate - whole)  # [N, H, W, 4]
        indices = tf.cast(whole, tf.int32)[..., None] + tf.range(-1, 3)  # [N, H, W, 4]
        inside = (indices >= 0) & (indices < size)
        return tf.clip_by_value(indices, 0, size - 1), weights, inside

    xs, wxs, inside_x = taps(map_x, width)
    ys, wys, inside_y = taps(map_y, height)
    # All 16 neighbours in one gather: [N, H, W, 4 rows, 4 columns].
    weights = tf.where(inside_y[..., :, None] & inside_x[..., None, :], wys[..., :, None] * wxs[..., None, :], 0.0)
    index = tf.reshape(ys[..., :, None] * width + xs[..., None, :], [batch, height * width * 16])
    flat = tf.reshape(images, [batch, height * width, channels])  # [N, H*W, C]
    values = tf.reshape(tf.gather(flat, index, batch_dims=1), [batch, height, width, 4, 4, channels])
    return tf.reduce_sum(values * weights[..., None], axis=[3, 4])


def _median_network(count: int) -> list[tuple[int, int]]:
    """Compare-exchange pairs (low, high) that put the median of ``count`` values at ``count // 2``.

    Batcher's odd-even merge sort on the next power of two, restricted to the first
    ``count`` wires (the missing ones act as +inf and never move), then pruned to
    the comparators the middle wire depends on.
    """
    size = 1 << (count - 1).bit_length()
    pairs = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    pairs = [(a, b) for a, b in pairs if b < count]
    needed, kept = {count // 2}, []
    for a, b in reversed(pairs):
        if a in needed or b in needed:
            kept.append((a, b))
            needed |= {a, b}
    return kept[::-1]


def median_blur(images: tf.Tensor, ksize: int) -> tf.Tensor:
    """``cv2.medianBlur`` of float32 ``[N, H, W]`` with a ``ksize`` x ``ksize`` window (3 or 5).

    The border is replicated, as OpenCV's sorting-network median does; the median is
    selected with min/max only, so XLA fuses it into one elementwise pass.
    """
    height, width = images.shape[1], images.shape[2]
    half = ksize // 2
    rows = np.clip(np.arange(-half, height + half), 0, height - 1)
    cols = np.clip(np.arange(-half, width + half), 0, width - 1)
    padded = tf.gather(tf.gather(images, rows, axis=1), cols, axis=2)  # [N, H+2h, W+2h]
    wires = [padded[:, dy:dy + height, dx:dx + width] for dy in range(ksize) for dx in range(ksize)]
    for a, b in _median_network(ksize * ksize):
        wires[a], wires[b] = tf.minimum(wires[a], wires[b]), tf.maximum(wires[a], wires[b])
    return wires[ksize * ksize // 2]


def _centred_gradient(image):
    """tvl1flow.cpp centeredGradient: 0.5 (I[x+1] - I[x-1]), edge pixels repeated. ``[N, H, W]`` each."""
    right = tf.concat([image[:, :, 1:], image[:, :, -1:]], axis=2)
    left = tf.concat([image[:, :, :1], image[:, :, :-1]], axis=2)
    down = tf.concat([image[:, 1:], image[:, -1:]], axis=1)
    up = tf.concat([image[:, :1], image[:, :-1]], axis=1)
    return 0.5 * (right - left), 0.5 * (down - up)


def _forward_gradient(u):
    """tvl1flow.cpp forwardGradient: u[x+1] - u[x], 0 on the last column (row for y)."""
    dx = tf.concat([u[:, :, 1:] - u[:, :, :-1], tf.zeros_like(u[:, :, :1])], axis=2)
    dy = tf.concat([u[:, 1:] - u[:, :-1], tf.zeros_like(u[:, :1])], axis=1)
    return dx, dy


def _divergence(v1, v2):
    """tvl1flow.cpp divergence: backward differences with v = 0 left of / above the image."""
    v1x = v1 - tf.concat([tf.zeros_like(v1[:, :, :1]), v1[:, :, :-1]], axis=2)
    v2y = v2 - tf.concat([tf.zeros_like(v2[:, :1]), v2[:, :-1]], axis=1)
    return v1x + v2y


def _one_level(i0, i1, u1, u2, params: TVL1Params):
    """procOneScale on one pyramid level: ``[N, h, w]`` images and flow in, flow (u1, u2) out."""
    batch, height, width = i0.shape
    l_t = np.float32(params.lambda_ * params.theta)
    taut = np.float32(params.tau / params.theta)
    theta = np.float32(params.theta)
    scaled_epsilon = np.float32(params.epsilon * params.epsilon * height * width)
    i1x, i1y = _centred_gradient(i1)
    sources = tf.stack([i1, i1x, i1y], axis=-1)  # [N, h, w, 3]
    grid_x = tf.range(width, dtype=tf.float32)[None, None, :]
    grid_y = tf.range(height, dtype=tf.float32)[None, :, None]
    zeros = tf.zeros_like(i0)

    def inner_step(active, u1, u2, p11, p12, p21, p22, i1wx, i1wy, grad, rho_c):
        rho = rho_c + (i1wx * u1 + i1wy * u2)
        threshold = l_t * grad
        fi = tf.where(rho < -threshold, l_t, tf.where(
            rho > threshold, -l_t,
            tf.where(grad > _FLT_EPSILON, -rho / tf.where(grad > _FLT_EPSILON, grad, 1.0), 0.0)))
        v1, v2 = u1 + fi * i1wx, u2 + fi * i1wy
        new_u1 = v1 + theta * _divergence(p11, p12)
        new_u2 = v2 + theta * _divergence(p21, p22)
        error = tf.reduce_sum(tf.square(new_u1 - u1) + tf.square(new_u2 - u2), axis=[1, 2])  # [N]
        u1x, u1y = _forward_gradient(new_u1)
        u2x, u2y = _forward_gradient(new_u2)
        ng1 = 1.0 + taut * tf.sqrt(u1x * u1x + u1y * u1y)
        ng2 = 1.0 + taut * tf.sqrt(u2x * u2x + u2y * u2y)
        updated = (new_u1, new_u2, (p11 + taut * u1x) / ng1, (p12 + taut * u1y) / ng1,
                   (p21 + taut * u2x) / ng2, (p22 + taut * u2y) / ng2)
        mask = active[:, None, None]
        kept = [tf.where(mask, new, old) for new, old in zip(updated, (u1, u2, p11, p12, p21, p22))]
        return [active & (error > scaled_epsilon)] + kept

    def warp(w, u1, u2, p11, p12, p21, p22):
        warped = remap_cubic(sources, grid_x + u1, grid_y + u2)
        i1w, i1wx, i1wy = warped[..., 0], warped[..., 1], warped[..., 2]
        grad = i1wx * i1wx + i1wy * i1wy
        rho_c = i1w - i1wx * u1 - i1wy * u2 - i0
        fixed = (i1wx, i1wy, grad, rho_c)

        def outer(n, active, u1, u2, *duals):
            if params.median_filtering > 1:
                mask = active[:, None, None]
                medians = median_blur(tf.concat([u1, u2], axis=0), params.median_filtering)  # [2N, h, w]
                u1 = tf.where(mask, medians[:batch], u1)
                u2 = tf.where(mask, medians[batch:], u2)
            _, *state = tf.while_loop(
                lambda k, active, *_: (k < params.inner_iterations) & tf.reduce_any(active),
                lambda k, *state: [k + 1] + inner_step(*state, *fixed),
                [tf.constant(0), active, u1, u2, *duals])
            return [n + 1] + state

        active = tf.ones_like(i0[:, 0, 0], dtype=tf.bool)  # [N]: error = FLT_MAX at each warp
        _, _, *state = tf.while_loop(
            lambda n, active, *_: (n < params.outer_iterations) & tf.reduce_any(active),
            outer, [tf.constant(0), active, u1, u2, p11, p12, p21, p22])
        return [w + 1] + state

    _, u1, u2, *_ = tf.while_loop(lambda w, *_: w < params.warps, warp,
                                  [tf.constant(0), u1, u2, zeros, zeros, zeros, zeros])
    return u1, u2


def tvl1_flow(previous: tf.Tensor, current: tf.Tensor, params: TVL1Params = OPENCV) -> tf.Tensor:
    """Dense TV-L1 flow from ``previous`` to ``current`` for a batch of grey frame pairs.

    Traceable under ``tf.function(jit_compile=True)`` (shapes must be static). Called
    eagerly, it runs one XLA program compiled once per (params, shape) and cached.

    Args:
      previous, current: float32 ``[N, H, W]``, grey levels 0..255, H and W >= 3.
      params: the solver's settings (``OPENCV`` or ``DENSEFLOW`` presets).

    Returns:
      float32 ``[N, H, W, 2]``: (x, y) displacement such that
      ``previous[y, x] ~ current[y + fy, x + fx]``, as ``cv2.optflow`` returns.
    """
    if tf.executing_eagerly():
        return _compiled(params)(tf.convert_to_tensor(previous, tf.float32),
                                 tf.convert_to_tensor(current, tf.float32))
    previous = tf.convert_to_tensor(previous, tf.float32)
    current = tf.convert_to_tensor(current, tf.float32)
    if previous.shape.rank != 3 or not previous.shape.is_fully_defined():
        raise ValueError(f"previous must be a [N, H, W] tensor of static shape, got {previous.shape}")
    if current.shape != previous.shape:
        raise ValueError(f"current must have previous's shape {previous.shape}, got {current.shape}")
    if min(previous.shape[1:]) < 3:
        raise ValueError(f"frames must be at least 3x3 pixels, got {previous.shape[1:]}")
    sizes = level_sizes(previous.shape[1], previous.shape[2], params)
    pyramid0, pyramid1 = [previous], [current]
    for size in sizes[1:]:
        pyramid0.append(resize_linear(pyramid0[-1], size, params.scale_step))
        pyramid1.append(resize_linear(pyramid1[-1], size, params.scale_step))
    u1 = u2 = tf.zeros_like(pyramid0[-1])
    for level in reversed(range(len(sizes))):
        u1, u2 = _one_level(pyramid0[level], pyramid1[level], u1, u2, params)
        if level:
            zoom = np.float32(1.0 / params.scale_step)
            u1 = resize_linear(u1, sizes[level - 1]) * zoom
            u2 = resize_linear(u2, sizes[level - 1]) * zoom
    return tf.stack([u1, u2], axis=-1)


@functools.lru_cache(maxsize=None)
def _compiled(params: TVL1Params):
    """One XLA-compiled ``tvl1_flow`` per parameter set (retraced per input shape)."""
    return tf.function(lambda previous, current: tvl1_flow(previous, current, params), jit_compile=True,
                       autograph=False)


def flow_fields(frames: np.ndarray, params: TVL1Params = OPENCV, batch_size: int = 16) -> Iterator[np.ndarray]:
    """The T-1 flow fields of a video, computed ``batch_size`` pairs at a time.

    Same contract as ``flow.FlowEstimator.fields`` (frames turned grey with
    ``flow.to_grey``). The last batch is padded with copies of its last pair so that
    every batch has one shape and reuses one compiled program.

    Args:
      frames: uint8 ``[T, H, W, 3]`` BGR or ``[T, H, W]`` grey.
      params: the solver's settings.
      batch_size: frame pairs per XLA call.

    Yields:
      float32 ``[H, W, 2]``, flow t from frame t to frame t+1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if len(frames) < 2:
        return
    grey = np.stack([flow_lib.to_grey(frame) for frame in frames]).astype(np.float32)  # [T, H, W]
    pairs = len(grey) - 1
    for start in range(0, pairs, batch_size):
        stop = min(start + batch_size, pairs)
        index = np.minimum(np.arange(start, start + batch_size), stop - 1)  # padded with the last pair
        fields = tvl1_flow(grey[index], grey[index + 1], params).numpy()
        yield from fields[:stop - start]
