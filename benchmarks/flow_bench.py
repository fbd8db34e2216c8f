r"""TV-L1 extraction speed of tools/prepare_dataset.py vs. cv2.optflow itself.

  python benchmarks/flow_bench.py [--workers=N] [--videos=V] [--frames=T] [--size=340x256]

Writes V textured MJPG videos of T frames, then in the same run measures
  direct: ``cv2.optflow.DualTVL1OpticalFlow.calc`` on the decoded, resized
          grey frames, one OpenCV thread, timing only the flow calls, on one
          core and on N processes at once (a warmed-up pool);
  tool:   ``runner.prepare_dataset`` with N workers on the same videos, the
          whole job: spawning workers, decoding, resizing, TV-L1, quantising,
          JPEG-encoding, writing shards and dataset.json (TensorFlow is
          imported before the clock starts: a one-off cost per run).
It prints flow fields per second and three ratios (target >= 0.9):
  per core, wall   = (tool fields/s / N) / (direct fields/s, one process)
  same parallelism = tool fields/s / (direct fields/s, N processes)
  per core, CPU    = direct CPU seconds per field / tool CPU seconds per field
                     (parent and workers, from getrusage)
On a machine other jobs share, wall-clock ratios move with their load; the
CPU-time ratio measures the tool's own overhead and stays put.
"""

import argparse
import concurrent.futures
import multiprocessing
import os
import resource
import sys
import tempfile
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from iastp_tf.data.prepare import runner, splits  # noqa: E402
from iastp_tf.data.prepare import video as video_lib  # noqa: E402


def _write_videos(directory, count, frames, width, height):
    """Textured scenes panning in different directions, folder-per-class."""
    rng = np.random.default_rng(0)
    for i in range(count):
        noise = rng.normal(0, 1, size=(height // 8 + 8, width // 8 + 8)).astype(np.float32)
        big = cv2.resize(noise, (width + 64, height + 64), interpolation=cv2.INTER_CUBIC)
        texture = np.clip(128 + 50 * big / big.std(), 0, 255).astype(np.uint8)
        dx, dy = rng.uniform(-2, 2, size=2)
        os.makedirs(os.path.join(directory, f"class{i % 2}"), exist_ok=True)
        writer = cv2.VideoWriter(os.path.join(directory, f"class{i % 2}", f"video{i:03d}.avi"),
                                 cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (width, height))
        for t in range(frames):
            view = np.float32([[1, 0, -32 - dx * t], [0, 1, -32 - dy * t]])
            frame = cv2.warpAffine(texture, view, (width, height))
            writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        writer.release()


def _grey_frames(path, width, height):
    frames, _ = video_lib.read_video(path)
    return [cv2.cvtColor(video_lib.resize_frame(f, height, width), cv2.COLOR_BGR2GRAY) for f in frames]


def _direct_tvl1(pairs):
    """(wall, CPU) seconds spent in TV-L1 alone over (previous, current) grey pairs, one thread."""
    cv2.setNumThreads(1)
    tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
    started, cpu_started = time.perf_counter(), time.process_time()
    for previous, current in pairs:
        tvl1.calc(previous, current, None)
    return time.perf_counter() - started, time.process_time() - cpu_started


def _cpu_seconds():
    """CPU seconds used so far by this process and its reaped children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _warm(_):
    cv2.setNumThreads(1)
    return os.getpid()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--videos", type=int, default=0, help="default: 2 per worker")
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--size", default="340x256")
    args = parser.parse_args()
    width, height = video_lib.parse_size(args.size)
    workers = args.workers
    count = args.videos or 2 * workers

    with tempfile.TemporaryDirectory() as scratch:
        videos_dir = os.path.join(scratch, "videos")
        _write_videos(videos_dir, count, args.frames, width, height)
        index = splits.read_folder(videos_dir, test_fraction=0)
        paths = [os.path.join(videos_dir, e.source) for e in index.entries]
        pairs = []
        for path in paths:
            grey = _grey_frames(path, width, height)
            pairs += list(zip(grey[:-1], grey[1:]))
        fields = len(pairs)

        wall, direct_cpu = _direct_tvl1(pairs)
        one_core = fields / wall

        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            list(pool.map(_warm, range(workers)))
            chunks = [pairs[i::workers] for i in range(workers)]
            started = time.perf_counter()
            list(pool.map(_direct_tvl1, chunks))
            parallel = fields / (time.perf_counter() - started)

        import tensorflow  # noqa: F401  A one-off cost per run (shards are written with TF), not timed.

        started, cpu_started = time.perf_counter(), _cpu_seconds()
        runner.prepare_dataset(index, os.path.join(scratch, "records"), videos_dir=videos_dir,
                               options=runner.PrepareOptions(resize=(width, height)), workers=workers,
                               progress=False)
        tool = fields / (time.perf_counter() - started)
        tool_cpu = _cpu_seconds() - cpu_started  # Workers are reaped when prepare_dataset returns.

    print(f"command: python benchmarks/flow_bench.py --workers={workers} --videos={count} "
          f"--frames={args.frames} --size={args.size}")
    print(f"machine: {os.cpu_count()} logical CPUs, OpenCV {cv2.__version__}; {fields} flow fields of "
          f"{width}x{height}")
    print(f"direct cv2.optflow TV-L1, 1 process   : {one_core:7.2f} fields/s, "
          f"{direct_cpu / fields:.3f} CPU s/field")
    print(f"direct cv2.optflow TV-L1, {workers} processes : {parallel:7.2f} fields/s")
    print(f"tools/prepare_dataset, {workers} workers      : {tool:7.2f} fields/s, {tool_cpu / fields:.3f} CPU s/field "
          "(spawn + decode + flow + JPEG + shards)")
    print(f"ratio per core, wall    : {tool / workers / one_core:.3f}  (target >= 0.9)")
    print(f"ratio same parallelism  : {tool / parallel:.3f}  (target >= 0.9)")
    print(f"ratio per core, CPU time: {direct_cpu / tool_cpu:.3f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
