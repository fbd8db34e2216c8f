"""Cost of the Table 11 fusion modes (SPEC §6): parameters, train-step time, peak memory.

Late fusion trains the RGB and flow streams separately (its cost: the sum of
their steps, the larger of their peaks); attention fusion and motion
reinforcement train both trunks in one step. Each model runs in its own
process, so the peak RSS is that model's (plus the TensorFlow runtime).

    python benchmarks/fusion_cost_bench.py                      # tiny, 64, batch 8, K 3
    python benchmarks/fusion_cost_bench.py resnet50 224 2 3     # BACKBONE SIZE BATCH FRAMES
"""

import json
import resource
import subprocess
import sys
import time

MODES = ("rgb", "flow", "attention_fusion", "motion_reinforced")
CLASSES = 101


def measure(mode, backbone, size, batch, frames, steps=5) -> dict:
    """One model's parameters, fastest of ``steps`` SGD steps (s) and peak RSS (GiB)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from iastp_tf.models import build_stream_model
    from iastp_tf.models.fusion import build_attention_fusion_model, build_motion_reinforced_model

    rng = np.random.default_rng(0)
    rgb = tf.constant(rng.standard_normal((batch, frames, size, size, 3)), tf.float32)
    flow = tf.constant(rng.standard_normal((batch, frames, size, size, 10)), tf.float32)
    if mode in ("rgb", "flow"):
        model, inputs = build_stream_model(backbone, mode, CLASSES, input_size=size), {"rgb": rgb, "flow": flow}[mode]
    else:
        builder = build_attention_fusion_model if mode == "attention_fusion" else build_motion_reinforced_model
        model, inputs = builder(backbone, CLASSES, input_size=size), {"rgb": rgb, "flow": flow}
    labels = tf.constant(np.arange(batch) % CLASSES)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(1e-3, momentum=0.9)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(x, training=True)) + tf.add_n(model.losses)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    float(step(inputs))  # trace and warm up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        float(step(inputs))
        times.append(time.perf_counter() - start)
    return {
        "params": model.count_params(),
        "step_s": min(times),
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def main(argv):
    if argv[1:2] == ["--one"]:
        mode, backbone, size, batch, frames = argv[2], argv[3], *map(int, argv[4:7])
        print(json.dumps(measure(mode, backbone, size, batch, frames)))
        return
    backbone, size, batch, frames = (argv[1], *map(int, argv[2:5])) if len(argv) > 1 else ("tiny", 64, 8, 3)
    results = {}
    for mode in MODES:
        out = subprocess.run(
            [sys.executable, __file__, "--one", mode, backbone, str(size), str(batch), str(frames)],
            check=True, capture_output=True, text=True,
        ).stdout
        results[mode] = json.loads(out.strip().splitlines()[-1])
    rgb, flow = results["rgb"], results["flow"]
    rows = [("late fusion (RGB + flow streams)", rgb["params"] + flow["params"], rgb["step_s"] + flow["step_s"],
             max(rgb["peak_gib"], flow["peak_gib"]))]
    rows += [(mode.replace("_", " "), r["params"], r["step_s"], r["peak_gib"])
             for mode, r in results.items() if mode not in ("rgb", "flow")]
    print(f"{backbone}, input {size}, batch {batch} x K {frames}")
    print("| mode | parameters | train step (s, min of 5) | peak RSS (GiB) |\n|---|---|---|---|")
    for name, params, seconds, peak in rows:
        print(f"| {name} | {params:,} | {seconds:.3f} | {peak:.2f} |")


if __name__ == "__main__":
    main(sys.argv)
