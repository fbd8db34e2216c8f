"""Input pipeline throughput against the machine's JPEG decode limit (SPEC §4).

Writes synthetic 340x256 records (RGB frames and TV-L1-like flow fields) to a
temporary directory, then measures, in the same run and on the same JPEGs:

* the decode limit: ``tf.io.decode_jpeg`` of every stored JPEG in a tight
  loop, parallel over all cores (a ``tf.data`` map with AUTOTUNE);
* the pipeline: ``make_dataset`` with the training configuration (K = 3
  snippets, multi-scale crop and flip, 224 x 224), RGB (L = 1) and flow (L = 5,
  10 JPEGs per snippet).

It reports JPEGs/s for both and their ratio (target >= 0.8), and clip frames
per second (B·K per batch) the pipeline delivers. Each rate is also given per
CPU second of this process, which stays meaningful on a machine shared with
other work (wall-clock rates then only measure this process's share of the
cores). Usage:

    .venv/bin/python benchmarks/input_bench.py [--videos=32 --frames=48 --batches=20]
"""

import os
import shlex
import sys
import tempfile
import time

import cv2
import numpy as np
import tensorflow as tf
from absl import app, flags

from iastp_tf.data.pipeline import make_dataset
from iastp_tf.data import dataset_info
from iastp_tf.data.prepare import records

_VIDEOS = flags.DEFINE_integer("videos", 32, "Synthetic videos to write.")
_FRAMES = flags.DEFINE_integer("frames", 48, "Frames per video (flow has one field fewer).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 32, "Videos per batch.")
_BATCHES = flags.DEFINE_integer("batches", 20, "Batches timed per configuration (after warm-up).")
_WARMUP = flags.DEFINE_integer("warmup", 3, "Batches run before timing.")
_TRIALS = flags.DEFINE_integer("trials", 3, "Timed runs per measurement; the best counts.")
_BACKBONE = flags.DEFINE_string("backbone", "bn_inception", "Backbone whose input convention is used.")

HEIGHT, WIDTH = 256, 340


def _synthetic_video(rng, num_frames):
    """Textured frames with moving blocks and smooth flow fields, as JPEGs."""
    texture = cv2.resize(rng.uniform(0, 255, (HEIGHT // 8, WIDTH // 8, 3)).astype(np.float32), (WIDTH, HEIGHT))
    frames, flow_x, flow_y = [], [], []
    for t in range(num_frames):
        frame = np.roll(texture, 2 * t, axis=1) + rng.normal(0, 6, texture.shape)
        for block in range(3):
            x, y = (40 + 60 * block + 3 * t) % (WIDTH - 50), 60 + 50 * block
            frame[y : y + 40, x : x + 50] = (70 * block, 200 - 60 * block, 120)
        frames.append(records.encode_jpeg(np.clip(frame, 0, 255).astype(np.uint8)))
        if t + 1 < num_frames:
            field = cv2.GaussianBlur(rng.normal(0, 3, (HEIGHT, WIDTH)).astype(np.float32), (0, 0), 8)
            flow_x.append(records.encode_jpeg(records.quantize_flow(field * 4 + 2)))
            flow_y.append(records.encode_jpeg(records.quantize_flow(-field * 4)))
    return frames, flow_x, flow_y


def write_benchmark_records(data_dir, num_videos, num_frames, seed=0):
    """Writes ``num_videos`` synthetic videos as two train shards; returns all JPEGs.

    Returns:
      ``(rgb_jpegs, flow_jpegs)``: lists of the encoded frames and flow fields.
    """
    rng = np.random.default_rng(seed)
    serialized, rgb_jpegs, flow_jpegs = [], [], []
    for i in range(num_videos):
        frames, flow_x, flow_y = _synthetic_video(rng, num_frames)
        rgb_jpegs += frames
        flow_jpegs += flow_x + flow_y
        serialized.append(
            records.VideoRecord(
                media_id=f"video_{i}", label_indices=[i % 10], label_names=[f"class_{i % 10}"],
                frame_rate=25.0, height=HEIGHT, width=WIDTH, frames=frames, flow_x=flow_x, flow_y=flow_y,
            ).serialize()
        )
    half = len(serialized) // 2
    for shard, chunk in enumerate((serialized[:half], serialized[half:])):
        records.write_tfrecord(os.path.join(data_dir, records.shard_filename("train", shard, 2)), chunk)
    dataset_info.write_dataset_info(
        data_dir, class_names=[f"class_{c}" for c in range(10)], split_counts={"train": num_videos},
        frame_size=[HEIGHT, WIDTH], flow_method="tvl1", compensated=False, multi_label=False,
        command="benchmarks/input_bench.py", num_shards={"train": 2},
    )
    return rgb_jpegs, flow_jpegs


def decode_limit(jpegs, channels, trials):
    """JPEGs/s of ``tf.io.decode_jpeg`` over ``jpegs``, parallel over all cores.

    Returns:
      ``(per wall-clock second, per CPU second)``, each the best of ``trials``
      passes over all the JPEGs.
    """
    decoded = (
        tf.data.Dataset.from_tensor_slices(jpegs)
        .map(lambda j: tf.io.decode_jpeg(j, channels=channels), num_parallel_calls=tf.data.AUTOTUNE)
        .batch(64)
        .prefetch(tf.data.AUTOTUNE)
    )
    for _ in decoded.take(2):  # warm-up
        pass
    wall_rates, cpu_rates = [], []
    for _ in range(trials):
        wall, cpu = time.perf_counter(), time.process_time()
        count = sum(int(batch.shape[0]) for batch in decoded)
        wall_rates.append(count / (time.perf_counter() - wall))
        cpu_rates.append(count / (time.process_time() - cpu))
    return max(wall_rates), max(cpu_rates)


def record_read_cost(data_dir, trials):
    """CPU milliseconds to read one record (one whole video) from the shards.

    Every training clip reads its video's whole record, all frames of all
    modalities, so this is a floor under the pipeline's cost per clip.
    """
    files = sorted(tf.io.gfile.glob(os.path.join(data_dir, "train-*.tfrecord")))
    lengths = tf.data.TFRecordDataset(files).repeat(4).map(tf.strings.length).prefetch(tf.data.AUTOTUNE)
    costs = []
    for _ in range(trials):
        cpu = time.process_time()
        count = sum(1 for _ in lengths)
        costs.append(1000 * (time.process_time() - cpu) / count)
    megabytes = sum(os.path.getsize(f) for f in files) / 1e6 / (count // 4)
    return min(costs), megabytes


def pipeline_rate(data_dir, modality, batch_size, batches, warmup, trials, backbone):
    """JPEGs/s the training pipeline delivers for ``modality``.

    Returns:
      ``(per wall-clock second, per CPU second)``, each the best of ``trials``
      runs of ``batches`` batches. Clip frames (B·K) are JPEGs / (2L) for flow.
    """
    num_segments = 3
    new_length = 1 if modality == "rgb" else 5
    jpegs_per_frame = 1 if modality == "rgb" else 2 * new_length
    dataset = make_dataset(
        data_dir, "train", modality=modality, backbone=backbone, batch_size=batch_size,
        num_segments=num_segments, input_size=224, training=True, repeat=True,
    )
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    wall_rates, cpu_rates = [], []
    for _ in range(trials):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(batches):
            frames, _ = next(iterator)
        count = batches * batch_size * num_segments * jpegs_per_frame
        wall_rates.append(count / (time.perf_counter() - wall))
        cpu_rates.append(count / (time.process_time() - cpu))
    assert frames.shape == (batch_size, num_segments, 224, 224, 3 if modality == "rgb" else 10)
    return max(wall_rates), max(cpu_rates)


def main(argv):
    del argv
    print("command:", " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv))
    print(f"cores: {os.cpu_count()}, tensorflow {tf.__version__}")
    with tempfile.TemporaryDirectory() as data_dir:
        start = time.perf_counter()
        rgb_jpegs, flow_jpegs = write_benchmark_records(data_dir, _VIDEOS.value, _FRAMES.value)
        print(
            f"wrote {_VIDEOS.value} videos x {_FRAMES.value} frames at {WIDTH}x{HEIGHT} "
            f"(RGB JPEG {np.mean([len(j) for j in rgb_jpegs]) / 1024:.1f} KiB, flow JPEG "
            f"{np.mean([len(j) for j in flow_jpegs]) / 1024:.1f} KiB) in {time.perf_counter() - start:.1f} s"
        )
        read_ms, megabytes = record_read_cost(data_dir, _TRIALS.value)
        print(f"reading one record ({megabytes:.2f} MB, a whole video): {read_ms:.2f} CPU ms")
        for modality, jpegs, channels in (("rgb", rgb_jpegs, 3), ("flow", flow_jpegs, 1)):
            limit, limit_cpu = decode_limit(jpegs, channels, _TRIALS.value)
            rate, rate_cpu = pipeline_rate(
                data_dir, modality, _BATCH_SIZE.value, _BATCHES.value, _WARMUP.value, _TRIALS.value,
                _BACKBONE.value,
            )
            jpegs_per_frame = 1 if modality == "rgb" else 10
            print(
                f"{modality:>4}: decode limit {limit:7.0f} JPEG/s | pipeline (K=3, 224, train) "
                f"{rate:7.0f} JPEG/s = {rate / jpegs_per_frame:6.0f} clip frames/s | "
                f"ratio {rate / limit:.2f} (target >= 0.8) | per CPU second: "
                f"{limit_cpu:.0f} vs {rate_cpu:.0f} JPEG, ratio {rate_cpu / limit_cpu:.2f}"
            )


if __name__ == "__main__":
    app.run(main)
