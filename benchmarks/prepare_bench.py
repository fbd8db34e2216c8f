r"""What the Apache Beam runner costs against the local runner, on the toy set, in one run.

  python benchmarks/prepare_bench.py [--workers=2] [--videos_per_class=6] [--frames=16] [--repeats=1]

Writes the toy dataset (``toy.make_toy_dataset``, 6 classes, 64x48 MJPG
videos, 3 of them broken), then prepares it with the same options
(``--resize=none``, TV-L1 at 2 scales x 2 warps, 2 shards per split) by
  local: ``runners.ProcessPoolRunner(workers)`` (what ``--workers=N`` runs)
  beam:  ``beam_runner.BeamRunner`` on the DirectRunner with ``workers``
         processes (``--direct_num_workers=N --direct_running_mode=multi_processing``)
each into a fresh directory, alternating, and checks that both outputs are
byte-identical. It prints the wall seconds of each and the ratio
beam / local (the Beam runner's overhead on one machine: pipeline start-up,
pickling, the grouping stage). TensorFlow is imported before the clocks start.
Needs the ``beam`` extra.
"""

import argparse
import filecmp
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402,F401  (imported before the clocks start)

from iastp_tf.data.prepare import beam_runner, runner, runners, splits, toy  # noqa: E402


def _same_output(first: str, second: str) -> bool:
    """Whether two dataset directories hold the same files with the same bytes (dataset.json aside)."""
    comparison = filecmp.dircmp(first, second, ignore=["dataset.json"])
    pending = [comparison]
    while pending:
        current = pending.pop()
        if current.left_only or current.right_only or current.diff_files or current.funny_files:
            return False
        pending += current.subdirs.values()
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--videos_per_class", type=int, default=6)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        videos = os.path.join(scratch, "toy")
        toy.make_toy_dataset(videos, num_classes=6, videos_per_class=args.videos_per_class, frames=args.frames,
                             size=(64, 48), corrupt=True)
        index = splits.read_ucf101(videos, 1)
        options = runner.PrepareOptions(resize=None, tvl1_scales=2, tvl1_warps=2)
        beam_options = f"--direct_num_workers={args.workers} --direct_running_mode=multi_processing"
        seconds = {"local": [], "beam": []}
        for repeat in range(args.repeats):
            for name in ("local", "beam"):
                job_runner = (runners.ProcessPoolRunner(args.workers) if name == "local"
                              else beam_runner.BeamRunner(beam_options))
                started = time.perf_counter()
                runner.prepare_dataset(index, os.path.join(scratch, f"{name}{repeat}"), videos_dir=videos,
                                       options=options, num_shards=2, progress=False, runner=job_runner)
                seconds[name].append(time.perf_counter() - started)
        identical = _same_output(os.path.join(scratch, "local0"), os.path.join(scratch, "beam0"))

    local, beam = min(seconds["local"]), min(seconds["beam"])
    print(f"toy set: {len(index.entries)} videos of {args.frames} frames, 64x48, {args.workers} workers, "
          f"best of {args.repeats}")
    print(f"local runner (process pool):   {local:7.2f} s")
    print(f"beam runner (DirectRunner):    {beam:7.2f} s")
    print(f"ratio beam / local:            {beam / local:7.2f}")
    print(f"outputs byte-identical:        {identical}")


if __name__ == "__main__":
    main()
