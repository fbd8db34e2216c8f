"""Sharded, parallel, resumable preparation of a dataset directory (SPEC §4).

How a run goes:
  1. A split reader lists the videos (``splits.DatasetIndex``). Each split's
     videos are shuffled with a fixed seed and cut into contiguous shards, so
     every video has a fixed (split, position, shard) whatever the workers do.
  2. Worker processes (spawned; they never import TensorFlow and use one
     OpenCV thread each, which also keeps TV-L1 deterministic) turn one video
     into one serialized record and write it atomically to
     ``<output_dir>/.partial/<split>-<position>.rec``, or write a ``.fail``
     file with a one-line reason. No error of one video stops the run.
  3. When every video of a shard is done, the parent writes the shard
     (``tf.io.TFRecordWriter`` to a temporary name, then rename) and deletes
     the shard's ``.rec`` files.
  4. At the end: ``failures.txt`` (one line per video: split, video, reason),
     ``dataset.json``, and ``.partial`` is removed.
A killed run resumes: finished shards and finished videos are kept, the rest
is done again; the output equals that of an uninterrupted run byte for byte.
``.partial/manifest.json`` fingerprints the video list and the options so that
a resumed run cannot mix two different preparations.
"""

import concurrent.futures
import concurrent.futures.process
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Callable

import cv2
import numpy as np

from iastp_tf.data import dataset_info
from iastp_tf.data.prepare import compensation, flow as flow_lib, rawframes, records, splits
from iastp_tf.data.prepare import video as video_lib

PARTIAL_DIR = ".partial"
FAILURES_TXT = "failures.txt"
SHUFFLE_SEED = 0
DEFAULT_VIDEOS_PER_SHARD = 64


@dataclasses.dataclass(frozen=True)
class PrepareOptions:
    """How each video becomes a record.

    Attributes:
      flow: "tvl1", "farneback" or "none".
      flow_compensation: also store motion-compensated flow (SPEC §6).
      resize: ``(width, height)`` of the stored frames (TSN: 340x256), or None
        to keep the source size.
      short_side: if set, wins over ``resize``: shorter side to this length,
        aspect ratio kept.
      jpeg_quality: JPEG quality of RGB frames and flow fields.
      tvl1_scales, tvl1_warps: TV-L1 pyramid levels and warps per level
        (OpenCV's defaults 5 and 5; see ``flow.FlowEstimator``).
    """

    flow: str = "tvl1"
    flow_compensation: bool = False
    resize: tuple[int, int] | None = (340, 256)
    short_side: int | None = None
    jpeg_quality: int = records.DEFAULT_JPEG_QUALITY
    tvl1_scales: int = 5
    tvl1_warps: int = 5

    def __post_init__(self):
        if self.flow not in flow_lib.FLOW_METHODS:
            raise ValueError(f"flow must be one of {flow_lib.FLOW_METHODS}, got {self.flow!r}")
        if self.flow_compensation and self.flow == "none":
            raise ValueError("flow_compensation needs flow other than 'none'")
        if self.short_side is not None and self.short_side <= 0:
            raise ValueError(f"short_side must be positive, got {self.short_side}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100, got {self.jpeg_quality}")


@dataclasses.dataclass(frozen=True)
class _Job:
    """One video for a worker. ``path`` is empty when the source was not found."""

    entry: splits.VideoEntry
    kind: str  # "video" or "rawframes"
    path: str
    record_path: str
    failure_path: str
    options: PrepareOptions


@dataclasses.dataclass
class PrepareSummary:
    """What a run produced.

    Attributes:
      output_dir: the dataset directory.
      split_counts: records per split.
      failures: lines of failures.txt.
      processed: videos processed by this run (resumed ones are not counted).
      seconds: wall time of this run.
      dataset: the content of dataset.json.
    """

    output_dir: str
    split_counts: dict[str, int]
    failures: list[str]
    processed: int
    seconds: float
    dataset: dict


# ---------------------------------------------------------------------------
# One video -> one record (runs in the workers).


def _write_atomically(path: str, data: bytes) -> None:
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "wb") as f:
        f.write(data)
    os.replace(temporary, path)


def _flow_jpegs(fields, options: PrepareOptions):
    """Quantised JPEGs of float flow fields, plus their compensated versions."""
    flow_x, flow_y, mc_x, mc_y = [], [], [], []
    for field in fields:  # [H, W, 2] each
        quantized = records.quantize_flow(field)
        flow_x.append(records.encode_jpeg(quantized[..., 0], options.jpeg_quality))
        flow_y.append(records.encode_jpeg(quantized[..., 1], options.jpeg_quality))
        if options.flow_compensation:
            compensated = records.quantize_flow(compensation.compensate_flow(field))
            mc_x.append(records.encode_jpeg(compensated[..., 0], options.jpeg_quality))
            mc_y.append(records.encode_jpeg(compensated[..., 1], options.jpeg_quality))
    return flow_x, flow_y, mc_x, mc_y


def _estimated_flow(frames: np.ndarray, options: PrepareOptions):
    """Yields float32 ``[H, W, 2]`` flow fields pair by pair."""
    estimator = flow_lib.FlowEstimator(options.flow, options.tvl1_scales, options.tvl1_warps)
    return estimator.fields(frames)


def _record(entry, frame_rate, height, width, frames, flows=((), (), (), ())):
    return records.VideoRecord(
        media_id=entry.media_id,
        label_indices=entry.label_indices,
        label_names=entry.label_names,
        frame_rate=frame_rate,
        height=height,
        width=width,
        frames=frames,
        flow_x=flows[0],
        flow_y=flows[1],
        flow_mc_x=flows[2],
        flow_mc_y=flows[3],
    )


def video_record(path: str, entry: splits.VideoEntry, options: PrepareOptions) -> records.VideoRecord:
    """Decodes, resizes and computes flow for one video file.

    Raises:
      video_lib.VideoError: the video cannot be read.
    """
    frames, frame_rate = video_lib.read_video(path, options.resize, options.short_side)  # [T, h, w, 3]
    height, width = frames.shape[1:3]
    flows = ((), (), (), ())
    if options.flow != "none":
        flows = _flow_jpegs(_estimated_flow(frames, options), options)
    jpegs = [records.encode_jpeg(f, options.jpeg_quality) for f in frames]
    return _record(entry, frame_rate, height, width, jpegs, flows)


def rawframes_record(directory: str, entry: splits.VideoEntry, options: PrepareOptions) -> records.VideoRecord:
    """One record from a rawframes folder (see ``rawframes``).

    Raises:
      video_lib.VideoError: no frames, or a corrupt JPEG.
    """
    images, flow_x_paths, flow_y_paths = rawframes.list_rawframes(directory)
    if not images:
        raise video_lib.VideoError("no img_*.jpg frames in rawframes folder")
    stored_flow = min(len(flow_x_paths), len(flow_y_paths))
    if options.flow != "none" and stored_flow:
        # T frames need T-1 fields; extractors write T-1 or T of them.
        images = images[: stored_flow + 1]
    jpegs = [rawframes.read_bytes(p) for p in images]
    source_height, source_width = rawframes.decode_jpeg(jpegs[0]).shape[:2]
    height, width = video_lib.target_size(source_height, source_width, options.resize, options.short_side)
    resized = (height, width) != (source_height, source_width)
    decoded = None
    if resized or (options.flow != "none" and not stored_flow):
        decoded = np.stack([video_lib.resize_frame(rawframes.decode_jpeg(j), height, width) for j in jpegs])
    if resized:
        jpegs = [records.encode_jpeg(f, options.jpeg_quality) for f in decoded]

    flows = ((), (), (), ())
    if options.flow != "none" and not stored_flow:
        flows = _flow_jpegs(_estimated_flow(decoded, options), options)
    elif options.flow != "none":
        count = len(jpegs) - 1
        flow_x = [rawframes.read_bytes(p) for p in flow_x_paths[:count]]
        flow_y = [rawframes.read_bytes(p) for p in flow_y_paths[:count]]
        if resized or options.flow_compensation:
            fields = rawframes.stored_flow_fields(flow_x, flow_y, (source_height, source_width), (height, width))
            recoded = _flow_jpegs(fields, options)
            flows = (recoded[:2] if resized else (flow_x, flow_y)) + recoded[2:]
        else:
            flows = (flow_x, flow_y, (), ())
    return _record(entry, 0.0, height, width, jpegs, flows)


def _process(job: _Job) -> bool:
    """Worker entry: writes the job's ``.rec`` (returns True) or ``.fail`` file (False)."""
    try:
        if not job.path:
            raise video_lib.VideoError("missing file")
        build = video_record if job.kind == "video" else rawframes_record
        record = build(job.path, job.entry, job.options)
        _write_atomically(job.record_path, record.serialize())
        return True
    except Exception as error:  # One bad video must never stop the run.
        reason = str(error) if isinstance(error, video_lib.VideoError) else f"{type(error).__name__}: {error}"
        reason = " ".join(reason.split())  # One line.
        _write_atomically(job.failure_path, reason.encode("utf-8"))
        return False


def _init_worker() -> None:
    cv2.setNumThreads(1)


# ---------------------------------------------------------------------------
# The run (parent process).


class _SourceResolver:
    """Finds each entry's video file or rawframes folder under a root."""

    def __init__(self, root: str, kind: str):
        self.root = root
        self.kind = kind
        self._by_stem = None

    def _index(self) -> dict[str, str]:
        if self._by_stem is None:
            self._by_stem = {}
            for directory, dirs, files in os.walk(self.root):
                dirs.sort()
                names = dirs if self.kind == "rawframes" else sorted(files)
                for name in names:
                    stem = name if self.kind == "rawframes" else os.path.splitext(name)[0]
                    self._by_stem.setdefault(stem, os.path.join(directory, name))
        return self._by_stem

    def __call__(self, entry: splits.VideoEntry) -> str:
        source = entry.source if self.kind == "video" else os.path.splitext(entry.source)[0]
        direct = os.path.join(self.root, source)
        if os.path.isfile(direct) or (self.kind == "rawframes" and os.path.isdir(direct)):
            return direct
        stem = os.path.splitext(os.path.basename(entry.source))[0]
        for name in (stem, *entry.aliases):
            if name in self._index():
                return self._index()[name]
        return ""


def _num_shards(count: int, requested: int | None) -> int:
    if requested is not None and requested < 1:
        raise ValueError(f"num_shards must be >= 1, got {requested}")
    wanted = requested or math.ceil(count / DEFAULT_VIDEOS_PER_SHARD)
    return max(1, min(wanted, count))


def _fingerprint(plan: dict[str, list[splits.VideoEntry]], shards: dict[str, int], kind: str,
                 options: PrepareOptions) -> str:
    description = {
        "kind": kind,
        "options": dataclasses.asdict(options),
        "shards": shards,
        "plan": {split: [dataclasses.astuple(e) for e in entries] for split, entries in plan.items()},
    }
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()


def _context_size(serialized: bytes) -> tuple[int, int]:
    import tensorflow as tf  # The parent only.

    from iastp_tf.data import features

    context = tf.train.SequenceExample.FromString(serialized).context.feature
    return context[features.HEIGHT].int64_list.value[0], context[features.WIDTH].int64_list.value[0]


class _Workspace:
    """The fixed layout of one preparation: which video goes where.

    Each split's videos are shuffled with ``SHUFFLE_SEED`` and cut into
    contiguous shards; video ``position`` of a split has its ``.rec`` or
    ``.fail`` file in ``<output_dir>/.partial`` until its shard is written.
    """

    def __init__(self, output_dir: str, index: splits.DatasetIndex, num_shards: int | None):
        self.output_dir = output_dir
        self.partial = os.path.join(output_dir, PARTIAL_DIR)
        self.plan = {}
        for split in index.split_names():
            entries = [e for e in index.entries if e.split == split]
            order = np.random.default_rng(SHUFFLE_SEED).permutation(len(entries))
            self.plan[split] = [entries[i] for i in order]
        self.shards = {split: _num_shards(len(entries), num_shards) for split, entries in self.plan.items()}

    def positions(self, split: str, shard: int) -> range:
        count, shards = len(self.plan[split]), self.shards[split]
        return range(shard * count // shards, (shard + 1) * count // shards)

    def record_path(self, split: str, position: int) -> str:
        return os.path.join(self.partial, f"{split}-{position:07d}.rec")

    def failure_path(self, split: str, position: int) -> str:
        return os.path.join(self.partial, f"{split}-{position:07d}.fail")

    def done_path(self, split: str, shard: int) -> str:
        return os.path.join(self.partial, f"{split}-{shard:05d}.done.json")

    def video_done(self, split: str, position: int) -> bool:
        return os.path.exists(self.record_path(split, position)) or os.path.exists(self.failure_path(split, position))

    def start(self, fingerprint: str) -> None:
        """Creates ``.partial``, or checks that it belongs to this preparation."""
        manifest = os.path.join(self.partial, "manifest.json")
        if os.path.exists(manifest):
            with open(manifest) as f:
                if json.load(f)["fingerprint"] != fingerprint:
                    raise ValueError(
                        f"output_dir {self.output_dir} holds an unfinished preparation with other "
                        "videos or options; delete it or choose another output_dir"
                    )
        elif any(name.endswith(".tfrecord") for name in os.listdir(self.output_dir)):
            raise ValueError(f"output_dir {self.output_dir} already holds shards of another preparation")
        os.makedirs(self.partial, exist_ok=True)
        _write_atomically(manifest, json.dumps({"fingerprint": fingerprint}).encode())
        for directory in (self.output_dir, self.partial):
            for name in os.listdir(directory):
                if ".tmp-" in name:  # Left by a killed run.
                    os.remove(os.path.join(directory, name))

    def write_shard(self, split: str, shard: int) -> None:
        """Writes a shard whose videos are all done, then drops their ``.rec`` files."""
        records_done = [self.record_path(split, p) for p in self.positions(split, shard)]
        records_done = [path for path in records_done if os.path.exists(path)]
        payloads = []
        for path in records_done:
            with open(path, "rb") as f:
                payloads.append(f.read())
        name = records.shard_filename(split, shard, self.shards[split])
        records.write_tfrecord(os.path.join(self.output_dir, name), payloads)
        sizes = sorted({_context_size(p) for p in payloads})
        _write_atomically(self.done_path(split, shard),
                          json.dumps({"records": len(payloads), "frame_sizes": sizes}).encode())
        for path in records_done:
            os.remove(path)

    def results(self) -> tuple[dict[str, int], set[tuple[int, int]], list[splits.Failure]]:
        """Records per split, the frame sizes seen, and the videos that failed."""
        counts, sizes, failures = {}, set(), []
        for split, entries in self.plan.items():
            counts[split] = 0
            for shard in range(self.shards[split]):
                with open(self.done_path(split, shard)) as f:
                    done = json.load(f)
                counts[split] += done["records"]
                sizes.update(tuple(size) for size in done["frame_sizes"])
            split_failures = []
            for position, entry in enumerate(entries):
                if os.path.exists(self.failure_path(split, position)):
                    with open(self.failure_path(split, position), encoding="utf-8") as f:
                        split_failures.append(splits.Failure(split, entry.source, f.read()))
            failures += sorted(split_failures, key=lambda failure: failure.item)
        return counts, sizes, failures


def prepare_dataset(
    index: splits.DatasetIndex,
    output_dir: str,
    *,
    videos_dir: str | None = None,
    rawframes_dir: str | None = None,
    options: PrepareOptions = PrepareOptions(),
    workers: int = 0,
    num_shards: int | None = None,
    command: str = "",
    progress: bool = True,
    on_video_done: Callable[[int], None] | None = None,
) -> PrepareSummary:
    """Turns the videos of ``index`` into a dataset directory (SPEC §4).

    Args:
      index: the videos, splits and classes (from a ``splits`` reader).
      output_dir: the dataset directory; created, or resumed when it holds an
        unfinished run of the same preparation. One run per directory at a time.
      videos_dir: root that ``VideoEntry.source`` paths are relative to.
      rawframes_dir: instead of videos, TSN/mmaction2 rawframes folders
        (``<rawframes_dir>/<source without extension>/img_00001.jpg``).
      options: decoding, resizing and flow settings.
      workers: worker processes; 0 runs in this process (one OpenCV thread).
      num_shards: shards per split (at most one per video); by default one
        per 64 videos.
      command: the command line, recorded in dataset.json.
      progress: show a progress bar (videos/s, ETA) on stderr.
      on_video_done: called with the number of videos this run has finished,
        after each one (tests interrupt a run by raising from it).

    Returns:
      A ``PrepareSummary``.

    Raises:
      ValueError: bad arguments, or ``output_dir`` holds another preparation.
    """
    if (videos_dir is None) == (rawframes_dir is None):
        raise ValueError("give exactly one of videos_dir and rawframes_dir")
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    kind = "video" if videos_dir is not None else "rawframes"
    started = time.perf_counter()
    os.makedirs(output_dir, exist_ok=True)
    workspace = _Workspace(output_dir, index, num_shards)
    fingerprint = _fingerprint(workspace.plan, workspace.shards, kind, options)

    if os.path.exists(os.path.join(output_dir, dataset_info.DATASET_JSON)):  # Finished before: nothing to do.
        finished = dataset_info.read_dataset_info(output_dir)
        if finished.get("fingerprint") != fingerprint:
            raise ValueError(f"output_dir {output_dir} holds a different finished preparation")
        with open(os.path.join(output_dir, FAILURES_TXT), encoding="utf-8") as f:
            failure_lines = f.read().splitlines()
        return PrepareSummary(output_dir, finished["splits"], failure_lines, 0,
                              time.perf_counter() - started, finished)
    workspace.start(fingerprint)

    # What is left to do: videos without a .rec or .fail in shards not yet written.
    resolver = _SourceResolver(videos_dir if kind == "video" else rawframes_dir, kind)
    jobs, remaining = [], {}
    for split, entries in workspace.plan.items():
        for shard in range(workspace.shards[split]):
            if os.path.exists(workspace.done_path(split, shard)):
                continue
            todo = [p for p in workspace.positions(split, shard) if not workspace.video_done(split, p)]
            remaining[(split, shard)] = len(todo)
            if not todo:
                workspace.write_shard(split, shard)
            for position in todo:
                job = _Job(entries[position], kind, resolver(entries[position]),
                           workspace.record_path(split, position), workspace.failure_path(split, position), options)
                jobs.append((split, shard, job))

    bar = None
    if progress and jobs:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="video", file=sys.stderr, dynamic_ncols=True,
                   desc=f"preparing {os.path.basename(os.path.normpath(output_dir))}")
    finished_count, failed_count = 0, 0

    def finish(split, shard, ok):
        nonlocal finished_count, failed_count
        finished_count += 1
        failed_count += not ok
        remaining[(split, shard)] -= 1
        if remaining[(split, shard)] == 0:
            workspace.write_shard(split, shard)
        if bar is not None:
            bar.set_postfix(failed=failed_count, refresh=False)
            bar.update(1)
        if on_video_done is not None:
            on_video_done(finished_count)

    try:
        if workers == 0:
            threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
            try:
                for split, shard, job in jobs:
                    finish(split, shard, _process(job))
            finally:
                cv2.setNumThreads(threads)
        else:
            _run_pool(jobs, workers, finish)
    finally:
        if bar is not None:
            bar.close()

    split_counts, sizes, video_failures = workspace.results()
    failure_lines = [f.line() for f in index.failures + video_failures]
    with open(os.path.join(output_dir, FAILURES_TXT), "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in failure_lines)
    dataset = dataset_info.write_dataset_info(
        output_dir,
        class_names=index.class_names,
        split_counts=split_counts,
        frame_size=list(sizes.pop()) if len(sizes) == 1 else None,
        flow_method=options.flow,
        compensated=options.flow_compensation,
        multi_label=index.multi_label,
        command=command,
        num_shards=workspace.shards,
        extra={
            "source": kind,
            "resize": list(options.resize) if options.resize and not options.short_side else None,
            "short_side": options.short_side,
            "jpeg_quality": options.jpeg_quality,
            "tvl1": {"scales": options.tvl1_scales, "warps": options.tvl1_warps} if options.flow == "tvl1" else None,
            "failures": len(failure_lines),
            "shuffle_seed": SHUFFLE_SEED,
            "fingerprint": fingerprint,
        },
    )
    shutil.rmtree(workspace.partial)
    return PrepareSummary(output_dir, split_counts, failure_lines, finished_count,
                          time.perf_counter() - started, dataset)


def _run_pool(jobs, workers: int, finish) -> None:
    """Runs jobs in spawned workers, in order, a bounded number in flight."""
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker)
    try:
        pending = iter(jobs)
        in_flight = {}
        for split, shard, job in pending:
            in_flight[pool.submit(_process, job)] = (split, shard)
            if len(in_flight) >= 2 * workers:
                break
        while in_flight:
            done, _ = concurrent.futures.wait(in_flight, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                split, shard = in_flight.pop(future)
                try:
                    ok = future.result()
                except concurrent.futures.process.BrokenProcessPool as error:
                    raise RuntimeError(
                        "a worker process died (killed, out of memory, or a crash inside OpenCV); "
                        "finished videos are kept: run the same command again to resume"
                    ) from error
                finish(split, shard, ok)
                for next_split, next_shard, job in pending:
                    in_flight[pool.submit(_process, job)] = (next_split, next_shard)
                    break
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
