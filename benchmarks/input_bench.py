"""Input cost per clip against video length: records, frame folders and a plain loader (issue 14).

Writes synthetic 340x256 videos of T = 48, 180 and 900 frames (RGB frames and
TV-L1-like flow fields, as JPEGs) to a temporary directory, both as record
shards and as frame folders (``--output_format=both``), then measures in the
same run, for RGB (K = 3 snippets of L = 1) and flow (K = 3 of L = 5, 30 JPEGs
per clip), training configuration (random segment offsets, 224 x 224 crops):

* ``make_dataset(..., source="records")`` and ``source="frames"``: sampling,
  the JPEGs of the sampled frames, decoding inside the multi-scale crop and
  resizing (the random flip and the normalisation are the model's first
  layer, ``FramePreprocessing``, and run on the accelerator in training);
* the loader: a plain ``tf.data`` program that reads only the sampled files
  by path (``tf.io.read_file``), decodes them inside the same crop (a
  multi-scale window of :func:`iastp_tf.data.augmentation.multiscale_crop_window`,
  ``decode_and_crop_jpeg``) and resizes to 224: what a rawframes loader does
  at least, without any checks.

For each it prints clips per CPU second of this process (meaningful on a
machine shared with other work) and the ratio to the loader's (goal for
frames: >= 0.9 at every T), bytes read per clip (the process's read() bytes
from ``/proc/self/io``) against the bytes of the JPEGs the clip decodes (goal
for frames: within 2x) and the CPU cost of parsing a record for one modality
against parsing all of them. It also prints what ``FramePreprocessing`` costs
per clip when it runs on this CPU (training without an accelerator pays it in
the train step). The machine is shared and noisy (+-15 %): trials go round
the datasets, the best of each counts, and whole runs should be repeated.
Usage:

    .venv/bin/python benchmarks/input_bench.py [--lengths=48,180,900 --batches=10 --trials=2]
"""

import json
import os
import shlex
import sys
import tempfile
import time

import cv2
import numpy as np
import tensorflow as tf
from absl import app, flags

from iastp_tf.data import augmentation, dataset_info, decoder
from iastp_tf.data.pipeline import make_dataset
from iastp_tf.data.prepare import records, store
from iastp_tf.data.prepare.records import FRAME_PREFIXES
from iastp_tf.layers import FramePreprocessing

_LENGTHS = flags.DEFINE_list("lengths", ["48", "180", "900"], "Video lengths T in frames.")
_FRAMES_PER_LENGTH = flags.DEFINE_integer(
    "frames_per_length", 1000, "Frames written per length (videos = this / T, at least --min_videos)."
)
_MIN_VIDEOS = flags.DEFINE_integer(
    "min_videos", 8, "Fewest videos per length: with 2, an epoch is 2 clips and the per-epoch set-up of "
    "the shard interleave and shuffle (nothing at dataset scale) weighs on every clip.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "Videos per batch.")
_BATCHES = flags.DEFINE_integer("batches", 10, "Batches timed per configuration (after warm-up).")
_WARMUP = flags.DEFINE_integer("warmup", 3, "Batches run before timing.")
_TRIALS = flags.DEFINE_integer("trials", 2, "Timed runs per measurement; the best counts.")
_BACKBONE = flags.DEFINE_string("backbone", "bn_inception", "Backbone whose normalisation FramePreprocessing applies.")

HEIGHT, WIDTH = 256, 340
SIZE, K = 224, 3
NEW_LENGTH = {"rgb": 1, "flow": 5}
POOL = 24  # distinct JPEGs per plane, reused along the videos


def jpeg_pool(seed=0):
    """``POOL`` textured RGB frames and smooth flow fields per plane, as JPEGs."""
    rng = np.random.default_rng(seed)
    texture = cv2.resize(rng.uniform(0, 255, (HEIGHT // 8, WIDTH // 8, 3)).astype(np.float32), (WIDTH, HEIGHT))
    pool = {"img": [], "flow_x": [], "flow_y": []}
    for t in range(POOL):
        frame = np.roll(texture, 2 * t, axis=1) + rng.normal(0, 6, texture.shape)
        for block in range(3):
            x, y = (40 + 60 * block + 3 * t) % (WIDTH - 50), 60 + 50 * block
            frame[y : y + 40, x : x + 50] = (70 * block, 200 - 60 * block, 120)
        pool["img"].append(records.encode_jpeg(np.clip(frame, 0, 255).astype(np.uint8)))
        field = cv2.GaussianBlur(rng.normal(0, 3, (HEIGHT, WIDTH)).astype(np.float32), (0, 0), 8)
        pool["flow_x"].append(records.encode_jpeg(records.quantize_flow(field * 4 + 2)))
        pool["flow_y"].append(records.encode_jpeg(records.quantize_flow(-field * 4)))
    return pool


def write_dataset(data_dir, num_videos, num_frames, pool):
    """Writes ``num_videos`` videos as two train shards and as frame folders, with dataset.json.

    Returns:
      ``(folders, mean record bytes)``.
    """
    serialized, folders, videos = [], [], []
    for i in range(num_videos):
        planes = {
            name: [jpegs[(7 * i + t) % POOL] for t in range(num_frames if name == "img" else num_frames - 1)]
            for name, jpegs in pool.items()
        }
        record = records.VideoRecord(
            media_id=f"video_{i}", label_indices=[i % 10], label_names=[f"class_{i % 10}"], frame_rate=25.0,
            height=HEIGHT, width=WIDTH, frames=planes["img"], flow_x=planes["flow_x"], flow_y=planes["flow_y"],
        )
        folder = os.path.join(data_dir, "frames", record.media_id)
        os.makedirs(folder)
        for name, jpeg in store.frame_files(record).items():  # the layout prepare writes
            with open(os.path.join(folder, name), "wb") as f:
                f.write(jpeg)
        folders.append(folder)
        videos.append(store.video_info(record))
        serialized.append(record.serialize())
    for shard in range(2):
        chunk = serialized[slice(*records.shard_bounds(shard, num_videos, 2))]
        records.write_tfrecord(os.path.join(data_dir, records.shard_filename("train", shard, 2)), chunk)
    dataset_info.write_dataset_info(
        data_dir, class_names=[f"class_{c}" for c in range(10)], split_counts={"train": num_videos},
        frame_size=[HEIGHT, WIDTH], flow_method="tvl1", compensated=False, multi_label=False,
        command="benchmarks/input_bench.py", num_shards={"train": 2},
        extra={"format": "both", "frames_dir": "frames", "videos": {"train": videos}},
    )
    return folders, float(np.mean([len(s) for s in serialized]))


def loader_dataset(folders, num_frames, modality, batch_size, seed=0):
    """The baseline: TSN segment sampling, then only the sampled files read and decoded.

    Returns:
      A repeated dataset of float32 ``[B, K, 224, 224, C]`` (C = 3 RGB, 10 flow).
    """
    new_length = NEW_LENGTH[modality]
    span = (num_frames if modality == "rgb" else num_frames - 1) - new_length + 1

    def load(folder, video_seed):
        average = span // K
        offsets = tf.range(K) * average + tf.random.stateless_uniform(
            [K], tf.stack([video_seed, 0]), 0, average, tf.int32)
        window = augmentation.multiscale_crop_window(HEIGHT, WIDTH, tf.stack([video_seed, 1]))
        names = tf.strings.as_string(tf.reshape(offsets[:, None] + tf.range(new_length), [-1]) + 1, width=5, fill="0")
        planes = []
        for prefix in FRAME_PREFIXES[modality]:
            paths = tf.unstack(tf.strings.join([folder, "/", prefix, names, ".jpg"]), num=K * new_length)
            decoded = tf.stack([
                tf.io.decode_and_crop_jpeg(tf.io.read_file(p), window, channels=3 if modality == "rgb" else 1)
                for p in paths
            ])  # [K*L, h, w, c]
            planes.append(tf.image.resize(tf.cast(decoded, tf.float32), [SIZE, SIZE]))  # float: 2x faster
        if modality == "rgb":
            return planes[0]  # [K, S, S, 3]
        flow = tf.stack(planes, axis=1)  # [K*L, 2, S, S, 1]
        flow = tf.reshape(flow, [K, 2 * new_length, SIZE, SIZE])
        return tf.transpose(flow, [0, 2, 3, 1])  # [K, S, S, 2L]: x0, y0, x1, ...

    folders = tf.data.Dataset.from_tensor_slices(folders).shuffle(len(folders), seed=seed).repeat()
    seeds = tf.data.Dataset.random(seed=seed)
    return (tf.data.Dataset.zip(folders, seeds).map(load, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))


def preprocessing_cost(modality, batch_size, trials):
    """CPU ms per clip of the model's ``FramePreprocessing`` (flip + normalisation) run on this CPU."""
    channels = 3 * NEW_LENGTH["rgb"] if modality == "rgb" else 2 * NEW_LENGTH["flow"]
    clips = tf.random.uniform([batch_size, K, SIZE, SIZE, channels], 0, 255)
    layer = FramePreprocessing(_BACKBONE.value, modality, seed=0)
    step = tf.function(lambda x: layer(x, training=True))
    step(clips)
    best = []
    for _ in range(trials):
        cpu = time.process_time()
        for _ in range(20):
            step(clips).numpy()
        best.append(1000 * (time.process_time() - cpu) / (20 * batch_size))
    return min(best)


def _read_bytes():
    """Bytes this process has read with read() so far (Linux), or None."""
    try:
        with open("/proc/self/io") as f:
            return int(next(line for line in f if line.startswith("rchar:")).split()[1])
    except OSError:
        return None


def measure(datasets, batch_size, batches, warmup, trials):
    """Per dataset ``(clips per CPU second, bytes read per clip)``, the best of ``trials`` runs.

    One dataset at a time: the CPU time is the whole process's, and a
    dataset's prefetching threads keep working while it is not being read,
    so each run opens a fresh iterator, warms it up and closes it. Trials go
    round the datasets (loader, pipeline, loader, ...), so that load from
    other work on a shared machine hits all of them alike; the best run of
    each counts. Windows are long (10 batches by default) because clips
    prefetched before a window starts cost nothing inside it.
    """
    rates = {name: [] for name in datasets}
    reads = {name: [] for name in datasets}
    for _ in range(trials):
        for name, dataset in datasets.items():
            iterator = iter(dataset)
            for _ in range(warmup):
                next(iterator)
            cpu, read = time.process_time(), _read_bytes()
            for _ in range(batches):
                next(iterator)
            rates[name].append(batches * batch_size / (time.process_time() - cpu))
            if read is not None:
                reads[name].append((_read_bytes() - read) / (batches * batch_size))
            del iterator  # stops its prefetching before the next dataset is timed
    return {name: (max(rates[name]), min(reads[name]) if reads[name] else float("nan")) for name in datasets}


def parse_cost(data_dir, trials):
    """CPU ms per record to parse RGB only and every modality, reading the shards each time."""
    files = sorted(tf.io.gfile.glob(os.path.join(data_dir, "train-*.tfrecord")))
    costs = {}
    for name, modalities in (("rgb only", ("rgb",)), ("rgb + flow", ("rgb", "flow"))):
        parsed = tf.data.TFRecordDataset(files).repeat(4).map(
            lambda r, m=modalities: tf.shape(decoder.parse_video(r, m)[m[0]]),
            num_parallel_calls=tf.data.AUTOTUNE)
        best = []
        for _ in range(trials):
            cpu = time.process_time()
            count = sum(1 for _ in parsed)
            best.append(1000 * (time.process_time() - cpu) / count)
        costs[name] = min(best)
    read = tf.data.TFRecordDataset(files).repeat(4).map(tf.strings.length)
    cpu = time.process_time()
    count = sum(1 for _ in read)
    costs["read only"] = 1000 * (time.process_time() - cpu) / count
    return costs


def main(argv):
    del argv
    print("command:", " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv))
    print(f"cores: {os.cpu_count()}, tensorflow {tf.__version__}")
    start = time.perf_counter()
    pool = jpeg_pool()
    jpeg_bytes = {"rgb": np.mean([len(j) for j in pool["img"]]),
                  "flow": np.mean([len(j) for j in pool["flow_x"] + pool["flow_y"]])}
    print(f"JPEGs {WIDTH}x{HEIGHT}: RGB {jpeg_bytes['rgb'] / 1024:.1f} KiB, flow field "
          f"{jpeg_bytes['flow'] / 1024:.1f} KiB; K = {K}, crops {SIZE}, batch {_BATCH_SIZE.value}")
    rows = []
    for num_frames in (int(t) for t in _LENGTHS.value):
        num_videos = max(_MIN_VIDEOS.value, _FRAMES_PER_LENGTH.value // num_frames)
        with tempfile.TemporaryDirectory() as data_dir:
            folders, record_bytes = write_dataset(data_dir, num_videos, num_frames, pool)
            print(f"T = {num_frames}: {num_videos} videos, record {record_bytes / 1e6:.2f} MB")
            if num_frames == 180:
                costs = parse_cost(data_dir, _TRIALS.value)
                print("  parse one record, CPU ms: " + ", ".join(f"{k} {v:.2f}" for k, v in costs.items()))
            for modality in ("rgb", "flow"):
                decoded = K * NEW_LENGTH[modality] * (1 if modality == "rgb" else 2) * jpeg_bytes[modality]
                datasets = {"loader": loader_dataset(folders, num_frames, modality, _BATCH_SIZE.value)}
                for source in ("records", "frames"):
                    datasets[source] = make_dataset(
                        data_dir, "train", modality=modality, backbone=_BACKBONE.value,
                        batch_size=_BATCH_SIZE.value, num_segments=K, input_size=SIZE, training=True,
                        repeat=True, seed=0, source=source,
                    )
                results = measure(datasets, _BATCH_SIZE.value, _BATCHES.value, _WARMUP.value, _TRIALS.value)
                base, base_read = results["loader"]
                for source in ("records", "frames"):
                    rate, read = results[source]
                    rows.append(dict(T=num_frames, modality=modality, source=source, clips_per_cpu_s=rate,
                                     loader=base, read_per_clip=read, loader_read_per_clip=base_read,
                                     decoded_per_clip=decoded))
                    print(f"  {modality:>4} {source:>7}: {rate:6.1f} clips/CPU s, loader {base:6.1f} -> ratio "
                          f"{rate / base:.2f} | read {read / 1e3:8.1f} kB/clip (loader {base_read / 1e3:.1f}) "
                          f"vs decoded {decoded / 1e3:.1f} kB = {read / decoded:.1f}x")
    print("\n| T | modality | source | clips / CPU s | ratio to loader (goal frames >= 0.9) "
          "| kB read / clip | kB decoded / clip | read / decoded (goal frames <= 2) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['T']} | {r['modality']} | {r['source']} | {r['clips_per_cpu_s']:.0f} "
              f"| {r['clips_per_cpu_s'] / r['loader']:.2f} ({r['loader']:.0f}) "
              f"| {r['read_per_clip'] / 1e3:.0f} | {r['decoded_per_clip'] / 1e3:.0f} "
              f"| {r['read_per_clip'] / r['decoded_per_clip']:.1f} |")
    for modality in ("rgb", "flow"):
        cost = preprocessing_cost(modality, _BATCH_SIZE.value, _TRIALS.value)
        frames_rate = np.median([r["clips_per_cpu_s"] for r in rows if r["modality"] == modality
                                 and r["source"] == "frames"])
        print(f"FramePreprocessing ({_BACKBONE.value}, {modality}) on this CPU: {cost:.2f} ms per clip, "
              f"{cost * frames_rate / 1000:.2f}x the frames source's CPU time per clip (on an accelerator, in the "
              "train step)")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    print(json.dumps(rows))


if __name__ == "__main__":
    app.run(main)
