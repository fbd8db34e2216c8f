"""Cost of running each sweep point in its own process (the default) vs. in the sweep's process.

Runs the same grid of tiny points (tiny backbone, synthetic records, a few
training steps, then evaluation) twice in this run: in process, the baseline,
and one subprocess per point. Prints the seconds per point of each and the
per-point start-up a subprocess adds (importing TensorFlow, building and
tracing again). Against a real point (hours of training) that start-up is
negligible, which is why isolation is the default.
Usage: ``python benchmarks/sweep_bench.py [--points 2] [--steps 4]``.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from iastp_tf.data.prepare.synthetic import write_synthetic_dataset  # noqa: E402
from iastp_tf.sweep.run import run_sweep  # noqa: E402

BASE = """
build_stream_model.backbone = 'tiny'
build_stream_model.num_classes = 4
build_stream_model.input_size = 32
make_dataset.backbone = 'tiny'
make_dataset.input_size = 32
eval/make_dataset.num_segments = 3
train.model_fn = @build_stream_model
train.dataset_fn = @make_dataset
train.data_dir = {data_dir!r}
train.batch_size = 4
train.total_steps = {steps}
train.checkpoint_every = {steps}
train.verbose = 0
evaluate.model_fn = @build_stream_model
evaluate.dataset_fn = @make_dataset
evaluate.data_dir = {data_dir!r}
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        data_dir = os.path.join(directory, "data")
        write_synthetic_dataset(data_dir, num_classes=4, videos_per_class=1, frames=8, size=32)
        base = os.path.join(directory, "base.gin")
        with open(base, "w") as f:
            f.write(BASE.format(data_dir=data_dir, steps=args.steps))
        sweep = [f"train.seed={list(range(args.points))}"]
        seconds = {}
        for mode, in_process in (("in process", True), ("subprocess", False)):
            start = time.perf_counter()
            run_sweep([base], os.path.join(directory, mode), sweeps=sweep, in_process=in_process)
            seconds[mode] = (time.perf_counter() - start) / args.points
    print(f"{args.points} points of {args.steps} steps + evaluation, seconds per point:")
    for mode, value in seconds.items():
        print(f"  {mode:10s} {value:6.1f} s")
    overhead = seconds["subprocess"] - seconds["in process"]
    print(f"subprocess / in process = {seconds['subprocess'] / seconds['in process']:.2f}; "
          f"start-up per point {overhead:.1f} s")


if __name__ == "__main__":
    main()
