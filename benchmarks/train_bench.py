r"""Training speed of the attention layer (issue 6): IRV2 RGB with 3 scales vs. no attention.

    python benchmarks/train_bench.py [--batch_size=2] [--steps=3] [--jit_compile] [--mixed_precision=mixed_bfloat16]

Both models run the project's real training step (``iastp_tf.training.loop``:
eq. 12 loss, SGD, weight decay) on the same random batch of
``[batch, K, 299, 299, 3]`` frames, one after the other in the same process,
after ``--warmup`` untimed steps. Prints steps/s, clips/s per device and the
attention's overhead (target: <= 10%). On a CPU keep the batch small; on a GPU
the defaults grow to batch 16 and 20 steps unless given.
"""

import json
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from iastp_tf.data.normalization import default_input_size
from iastp_tf.models import build_stream_model
from iastp_tf.training import loop
from iastp_tf.training.optimizer import make_optimizer

_BACKBONE = flags.DEFINE_string("backbone", "inception_resnet_v2", "Backbone of both models.")
_BATCH = flags.DEFINE_integer("batch_size", None, "Clips per step (default 2 on CPU, 16 on GPU).")
_SEGMENTS = flags.DEFINE_integer("num_segments", 3, "K frames per clip (paper: 3 for training).")
_STEPS = flags.DEFINE_integer("steps", None, "Timed steps per model (default 3 on CPU, 20 on GPU).")
_WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed steps first (tracing, autotuning).")
_INPUT_SIZE = flags.DEFINE_integer("input_size", None, "Frame size S (default: the backbone's, 299 for IRV2).")
_JIT = flags.DEFINE_bool("jit_compile", False, "XLA-compile the step.")
_MIXED = flags.DEFINE_string("mixed_precision", None, "None, mixed_float16 or mixed_bfloat16.")
_OUTPUT = flags.DEFINE_string("output_json", None, "Also write the results here.")


def time_training(attention, num_scales, batch, steps, warmup):
    """Seconds per step of one model's training step on ``batch``."""
    keras.backend.clear_session()
    model = build_stream_model(
        _BACKBONE.value, num_classes=101, num_scales=num_scales, attention=attention, input_size=_INPUT_SIZE.value
    )
    optimizer = make_optimizer(1e-3, mixed_precision=_MIXED.value)
    strategy = tf.distribute.get_strategy()
    step = loop.make_train_step(model, optimizer, strategy, False, 4e-5, _JIT.value)
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    for _ in range(warmup):
        float(step(iterator)["loss"])
    start = time.perf_counter()
    for _ in range(steps):
        result = step(iterator)
    float(result["loss"])  # wait for the last step
    return (time.perf_counter() - start) / steps


def main(argv):
    del argv
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    batch_size = _BATCH.value or (16 if on_gpu else 2)
    steps = _STEPS.value or (20 if on_gpu else 3)
    if _MIXED.value:
        keras.config.set_dtype_policy(_MIXED.value)
    size = _INPUT_SIZE.value or default_input_size(_BACKBONE.value)
    rng = np.random.default_rng(0)
    batch = (
        tf.constant(rng.normal(size=(batch_size, _SEGMENTS.value, size, size, 3)).astype(np.float32)),
        tf.constant(rng.integers(0, 101, size=batch_size).astype(np.int32)),
    )
    seconds = {
        "attention (3 scales)": time_training("pyramid", 3, batch, steps, _WARMUP.value),
        "no attention": time_training("none", 0, batch, steps, _WARMUP.value),
    }
    overhead = seconds["attention (3 scales)"] / seconds["no attention"] - 1
    device = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0]).get(
        "device_name", "GPU") if on_gpu else "CPU"
    print(f"{_BACKBONE.value} RGB, batch {batch_size} x K={_SEGMENTS.value} x {size}px, {steps} steps, "
          f"device {device}, jit {_JIT.value}, precision {_MIXED.value or 'float32'}")
    print("| model | steps/s | clips/s per device |")
    print("|---|---|---|")
    for name, value in seconds.items():
        print(f"| {name} | {1 / value:.3f} | {batch_size / value:.2f} |")
    print(f"attention overhead: {100 * overhead:+.1f}% (target <= 10%)")
    if _OUTPUT.value:
        with open(_OUTPUT.value, "w") as f:
            json.dump({"device": device, "batch_size": batch_size, "num_segments": _SEGMENTS.value,
                       "input_size": size, "steps": steps, "jit_compile": _JIT.value,
                       "mixed_precision": _MIXED.value, "seconds_per_step": seconds,
                       "overhead": overhead}, f, indent=2)


if __name__ == "__main__":
    app.run(main)
