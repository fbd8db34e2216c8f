"""Cost of PyramidAttention at the paper's Inception-ResNet-V2 shapes.

Prints, for K = 3 and K = 25 (batch of one video):

* the layer's forward+backward time as a share of Inception-ResNet-V2's
  forward+backward time on the same K frames (target < 1.5 %), and
* the layer's achieved FLOP/s (its matmul FLOPs, counted analytically) as a
  ratio to a plain ``[K·H·W, ΣC_j] × [ΣC_j, H·W]`` matmul's FLOP/s, forward and
  backward, measured in the same run (target >= 0.5).

Both baselines are measured in the same process, so the ratios hold on a noisy
machine. Usage: ``python benchmarks/attention_bench.py [--frames 3 25] [--repeats 5] [--xla]``.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from iastp_tf.layers import PyramidAttention  # noqa: E402

LEVELS = ((35, 35, 320), (17, 17, 1088), (8, 8, 2080))  # block35_10, block17_20, block8_10 at 299


def median_seconds(fn, repeats):
    fn()  # trace / compile
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_backward(forward, variables, inputs, jit_compile):
    """A compiled step computing a scalar of ``forward(inputs)`` and its gradients."""

    @tf.function(jit_compile=jit_compile)
    def step():
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            out = forward(inputs)
            out = out if isinstance(out, (list, tuple)) else [out]
            loss = tf.add_n([tf.reduce_sum(tf.cast(o, tf.float32)) for o in out])
        return tape.gradient(loss, [*variables, *inputs])

    return lambda: [g.numpy() for g in step() if g is not None]


def layer_flops(frames):
    """Matmul FLOPs of one forward+backward pass (backward = 2 × forward)."""
    h, w, c_top = LEVELS[-1]
    hw = h * w
    rows = frames * hw
    forward = sum(2 * rows * c * hw for _, _, c in LEVELS)  # scores, eq. 13
    forward += 2 * hw * rows * c_top  # M = Aᵀ X, eq. 4
    forward += 2 * hw * rows * hw  # AᵀA, eq. 8
    return 3 * forward


def bench(frames, repeats, jit_compile):
    levels = [tf.random.normal((1, frames, *shape)) for shape in LEVELS]
    layer = PyramidAttention()
    layer(levels)
    layer_time = median_seconds(
        forward_backward(lambda x: [layer(x)] + layer.losses, layer.trainable_variables, levels, jit_compile),
        repeats,
    )

    backbone = keras.applications.InceptionResNetV2(
        weights=None, include_top=False, pooling="avg", input_shape=(299, 299, 3)
    )
    images = [tf.random.normal((frames, 299, 299, 3))]
    backbone_time = median_seconds(
        forward_backward(lambda x: backbone(x[0], training=True), backbone.trainable_variables, images, jit_compile),
        repeats,
    )

    h, w, _ = LEVELS[-1]
    channels = sum(c for _, _, c in LEVELS)
    a = tf.random.normal((frames * h * w, channels))
    b = tf.Variable(tf.random.normal((channels, h * w)))
    matmul_time = median_seconds(forward_backward(lambda x: tf.matmul(x[0], b), [b], [a], jit_compile), repeats)
    matmul_flops = 3 * 2 * frames * h * w * channels * h * w

    layer_rate = layer_flops(frames) / layer_time
    matmul_rate = matmul_flops / matmul_time
    return {
        "frames": frames,
        "layer_ms": 1e3 * layer_time,
        "backbone_ms": 1e3 * backbone_time,
        "share": layer_time / backbone_time,
        "layer_gflops": layer_rate / 1e9,
        "matmul_gflops": matmul_rate / 1e9,
        "rate_ratio": layer_rate / matmul_rate,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[3, 25])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--xla", action="store_true", help="compile every step with XLA")
    args = parser.parse_args(argv)
    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(f"# python {' '.join(sys.argv)}  [{device}, TF {tf.__version__}, XLA={'on' if args.xla else 'off'}]")
    print("| K | layer fwd+bwd (ms) | IRV2 fwd+bwd (ms) | layer / IRV2 | layer GFLOP/s | matmul GFLOP/s | layer / matmul rate |")
    print("|---|---|---|---|---|---|---|")
    for frames in args.frames:
        r = bench(frames, args.repeats, args.xla)
        print(
            f"| {r['frames']} | {r['layer_ms']:.1f} | {r['backbone_ms']:.0f} | {100 * r['share']:.2f} % "
            f"| {r['layer_gflops']:.1f} | {r['matmul_gflops']:.1f} | {r['rate_ratio']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
