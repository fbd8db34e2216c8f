"""NumPy references for the layer tests, written from the paper's equations (float64, loops, no tricks).

Shared by the tests of PyramidAttention, Conv1x1Attention and the adaptive
pooling, which compare the layers against these transcriptions.
"""

import math

import numpy as np

SIZES = ((9, 9, 4), (5, 5, 6), (3, 3, 8))  # lowest level first


def np_adaptive_pool(frame, out_h, out_w, reduce):
    """Eq. 1's R with adaptive bins: frame [S1, S2, C] -> [out_h, out_w, C]."""
    s1, s2, _ = frame.shape
    out = np.zeros((out_h, out_w, frame.shape[2]))
    for i in range(out_h):
        r0, r1 = math.floor(i * s1 / out_h), math.ceil((i + 1) * s1 / out_h)
        for j in range(out_w):
            c0, c1 = math.floor(j * s2 / out_w), math.ceil((j + 1) * s2 / out_w)
            out[i, j] = reduce(frame[r0:r1, c0:c1].reshape(-1, frame.shape[2]), axis=0)
    return out


def np_softmax(x, axis=0):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_pyramid_attention(levels, kernels, biases, fusion, reduce=np.max):
    """One sample. levels: list of [K, H_j, W_j, C_j]. Returns M, A, L_inter, L_attn."""
    k, h, w, _ = levels[-1].shape
    hw = h * w
    xs, ys = [], []
    for x, kernel, bias in zip(levels, kernels, biases):
        if x.shape[1:3] != (h, w):
            x = np.stack([np_adaptive_pool(f, h, w, reduce) for f in x])
        flat = x.reshape(k * hw, -1)  # row p = t*H*W + h*W + w
        xs.append(flat)
        ys.append(flat @ kernel + bias[None, :])  # eq. 2 / 13
    fused = ys[0]
    for y in ys[1:]:
        fused = {"product": fused * y, "sum": fused + y, "max": np.maximum(fused, y)}[fusion]
    a = np_softmax(fused, axis=0)  # eq. 3
    a = a / np.linalg.norm(a, axis=0, keepdims=True)
    x_top = xs[-1]
    m = (x_top.T @ a).T  # eq. 4: M = X A with X as [C, K*H*W]
    # Eq. 8 with X [C, K*H*W]: -sum diag(A^T X^T X A) + sum of squared off-diagonal of A^T A.
    xx = x_top @ x_top.T  # X^T X, [K*H*W, K*H*W]
    inner = a.T @ xx @ a
    gram = a.T @ a
    l_inter = -np.trace(inner) + sum(gram[i, j] ** 2 for i in range(hw) for j in range(hw) if i != j)
    # Eqs. 14/15.
    total = 0.0
    for y in ys:
        s = np_softmax(y, axis=0)
        for mm in range(hw):
            for t in range(k):
                delta = np.linalg.norm(a[t * hw : (t + 1) * hw, mm] - s[t * hw : (t + 1) * hw, mm])
                total += 1.0 - delta**2
    l_attn = math.sqrt(max(total, 0.0))
    return m.reshape(h, w, -1), a, l_inter, l_attn


def random_levels(batch, frames, num_levels, seed=0):
    rng = np.random.default_rng(seed)
    sizes = SIZES[len(SIZES) - num_levels :]
    return [rng.standard_normal((batch, frames, *s)).astype("float32") for s in sizes]
