"""The shard store of preparation: where every video's result goes (SPEC §4).

  plan       each split's videos shuffled with SHUFFLE_SEED and cut into
             contiguous shards: every video has a fixed (split, position, shard)
  save       one worker Result -> files in <output_dir>/.partial (atomic):
               <split>-<position>.rec   the serialized record (records, both)
               <split>-<position>.json  the video's entry in dataset.json; written
                                        last, it marks the video done
               <split>-<position>.fail  a one-line failure reason instead
             and, for frame folders, frames/<media_id>/ (renamed when complete)
  commit     a shard whose videos are all saved -> <split>-SSSSS-of-NNNNN.tfrecord
             (atomic) and .partial/<split>-SSSSS.done.json; its per-video files go
  finish     failures.txt, dataset.json; .partial is removed
  resume     .partial/manifest.json fingerprints the plan and the options, so a
             rerun keeps committed shards and saved videos and never mixes two
             preparations; a finished directory whose shards or frame folders
             have gone missing is reopened and only those shards are redone

Every file goes through a ``Files`` object: ``LocalFiles`` here, Beam's file
systems in the Beam runner. The store is the same for every runner, so the
output is too, byte for byte.
"""

import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from absl import logging

from iastp_tf.data import dataset_info
from iastp_tf.data.prepare import flow as flow_lib
from iastp_tf.data.prepare import records, splits, worker

PARTIAL_DIR = ".partial"
FAILURES_TXT = "failures.txt"
FRAMES_DIR = "frames"
OUTPUT_FORMATS = ("records", "frames", "both")
SHUFFLE_SEED = 0
DEFAULT_VIDEOS_PER_SHARD = 64

_TEMPORARY = re.compile(r"^(?P<final>.+)" + re.escape(records.TEMPORARY_MARK) + r"\d+$")


class Files(Protocol):
    """The file operations of the store (local paths, or Beam's file systems)."""

    def exists(self, path: str) -> bool: ...
    def makedirs(self, path: str) -> None: ...
    def listdir(self, path: str) -> list[str]: ...
    def read(self, path: str) -> bytes: ...
    def write(self, path: str, data: bytes) -> None: ...  # Atomic: temporary name, then rename.
    def write_folder(self, path: str, files: dict[str, bytes]) -> None: ...  # Atomic likewise.
    def write_tfrecord(self, path: str, payloads: Sequence[bytes]) -> None: ...  # Atomic likewise.
    def remove(self, path: str) -> None: ...  # A file or a whole folder.


class LocalFiles:
    """``Files`` on local paths."""

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def read(self, path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    def write(self, path: str, data: bytes) -> None:
        temporary = records.temporary_path(path)
        with open(temporary, "wb") as f:
            f.write(data)
        os.replace(temporary, path)

    def write_folder(self, path: str, files: dict[str, bytes]) -> None:
        temporary = records.temporary_path(path)
        self.remove(temporary)
        os.makedirs(temporary)
        for name, data in files.items():
            with open(os.path.join(temporary, name), "wb") as f:
                f.write(data)
        os.rename(temporary, path)

    def write_tfrecord(self, path: str, payloads: Sequence[bytes]) -> None:
        records.write_tfrecord(path, payloads)

    def remove(self, path: str) -> None:
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def frame_files(record: records.VideoRecord) -> dict[str, bytes]:
    """A video's frame folder (rawframes layout, 1-based, 5 digits): file name -> JPEG bytes.

    ``img_%05d.jpg`` (T RGB frames), ``flow_x_%05d.jpg`` / ``flow_y_%05d.jpg``
    (T-1 grey fields; field t lies between frames t and t+1) and, when stored,
    ``flow_mc_x_%05d.jpg`` / ``flow_mc_y_%05d.jpg``: the record's own bytes.
    """
    prefixes = records.FRAME_PREFIXES
    planes = zip((*prefixes["rgb"], *prefixes["flow"], *prefixes["flow_mc"]),
                 (record.frames, record.flow_x, record.flow_y, record.flow_mc_x, record.flow_mc_y))
    return {f"{prefix}{t:0{records.FRAME_DIGITS}d}.jpg": jpeg
            for prefix, jpegs in planes for t, jpeg in enumerate(jpegs, start=1)}


def video_info(record: records.VideoRecord) -> dict:
    """The video's entry in dataset.json's ``videos``."""
    return {
        "id": record.media_id,
        "labels": [int(label) for label in record.label_indices],
        "num_frames": len(record.frames),
        "num_fields": len(record.flow_x),
        "height": int(record.height),
        "width": int(record.width),
    }


def _fingerprinted(options: worker.PrepareOptions) -> dict:
    """The options that identify a preparation; ``tvl1_preset`` only where it matters, so that
    directories prepared before it existed keep their fingerprint."""
    described = dataclasses.asdict(options)
    if options.flow not in flow_lib.BATCHED_METHODS:
        del described["tvl1_preset"]
    return described


def _tvl1_info(options: worker.PrepareOptions) -> dict | None:
    """dataset.json's ``tvl1``: scales and warps; for "tvl1_tf" also its preset and every solver parameter."""
    if options.flow not in ("tvl1", *flow_lib.BATCHED_METHODS):
        return None
    info = {"scales": options.tvl1_scales, "warps": options.tvl1_warps}
    if options.flow in flow_lib.BATCHED_METHODS:
        params = flow_lib.tvl1_tf_params(options.tvl1_preset, options.tvl1_scales, options.tvl1_warps)
        info.update(preset=options.tvl1_preset, params=dataclasses.asdict(params))
    return info


def _num_shards(count: int, requested: int | None) -> int:
    if requested is not None and requested < 1:
        raise ValueError(f"num_shards must be >= 1, got {requested}")
    wanted = requested or math.ceil(count / DEFAULT_VIDEOS_PER_SHARD)
    return max(1, min(wanted, count))


class ShardStore:
    """The fixed layout of one preparation and every write it makes.

    Args:
      output_dir: the dataset directory.
      index: the videos, splits and classes.
      kind: "video" or "rawframes", what the sources are.
      options: how videos become records (part of the fingerprint).
      output_format: "records", "frames" or "both".
      num_shards: shards per split, or None for one per 64 videos.
      files: the file operations (default: local paths).
    """

    def __init__(self, output_dir: str, index: splits.DatasetIndex, *, kind: str, options: worker.PrepareOptions,
                 output_format: str = "records", num_shards: int | None = None, files: Files | None = None):
        if output_format not in OUTPUT_FORMATS:
            raise ValueError(f"output_format must be one of {OUTPUT_FORMATS}, got {output_format!r}")
        self.output_dir = output_dir
        self.partial = os.path.join(output_dir, PARTIAL_DIR)
        self.output_format = output_format
        self.files = files or LocalFiles()
        self.plan: dict[str, list[splits.VideoEntry]] = {}
        for split in index.split_names():
            entries = [e for e in index.entries if e.split == split]
            order = np.random.default_rng(SHUFFLE_SEED).permutation(len(entries))
            self.plan[split] = [entries[i] for i in order]
        self.shards = {split: _num_shards(len(entries), num_shards) for split, entries in self.plan.items()}
        self._shard_of = {
            (split, position): shard
            for split in self.plan for shard in range(self.shards[split]) for position in self.positions(split, shard)
        }
        description = {
            "kind": kind,
            "options": _fingerprinted(options),
            "output_format": output_format,
            "shards": self.shards,
            "plan": {split: [dataclasses.astuple(e) for e in entries] for split, entries in self.plan.items()},
        }
        self.fingerprint = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()

    # -- Layout.

    @property
    def writes_records(self) -> bool:
        return self.output_format in ("records", "both")

    @property
    def writes_frames(self) -> bool:
        return self.output_format in ("frames", "both")

    def positions(self, split: str, shard: int) -> range:
        return range(*records.shard_bounds(shard, len(self.plan[split]), self.shards[split]))

    def shard_of(self, split: str, position: int) -> int:
        return self._shard_of[(split, position)]

    def shard_path(self, split: str, shard: int) -> str:
        return os.path.join(self.output_dir, records.shard_filename(split, shard, self.shards[split]))

    def frames_path(self, media_id: str) -> str:
        return os.path.join(self.output_dir, FRAMES_DIR, media_id)

    def _partial(self, split: str, position: int, suffix: str) -> str:
        return os.path.join(self.partial, f"{split}-{position:07d}{suffix}")

    def _done_path(self, split: str, shard: int) -> str:
        return os.path.join(self.partial, f"{split}-{shard:05d}.done.json")

    def _shard_complete(self, split: str, shard: int) -> bool:
        """Whether a committed shard's outputs are all there (its tfrecord, its videos' frame folders)."""
        if self.writes_records and not self.files.exists(self.shard_path(split, shard)):
            return False
        if self.writes_frames:
            done = json.loads(self.files.read(self._done_path(split, shard)))
            return all(self.files.exists(self.frames_path(info["id"])) for _, info in done["videos"])
        return True

    # -- Starting and resuming.

    def finished(self) -> dict | None:
        """dataset.json's content when this preparation is finished and complete, else None.

        A finished directory with missing shards or frame folders is reopened:
        its complete shards are kept and the rest is left to do.

        Raises:
          ValueError: ``output_dir`` holds another finished preparation.
        """
        if not self.files.exists(os.path.join(self.output_dir, dataset_info.DATASET_JSON)):
            return None
        info = dataset_info.read_dataset_info(self.output_dir)
        if info.get("fingerprint") != self.fingerprint:
            raise ValueError(f"output_dir {self.output_dir} holds a different finished preparation")
        self.start()
        self._write_done_files(info)
        incomplete = [(split, shard) for split in self.plan for shard in range(self.shards[split])
                      if not self._shard_complete(split, shard)]
        if not incomplete:
            self.files.remove(self.partial)
            return info
        logging.warning("%s: shards %s are missing; they are prepared again", self.output_dir,
                        ", ".join(f"{split}-{shard:05d}" for split, shard in incomplete))
        for split, shard in incomplete:
            self.files.remove(self._done_path(split, shard))
        for name in (dataset_info.DATASET_JSON, FAILURES_TXT):
            self.files.remove(os.path.join(self.output_dir, name))
        return None

    def _write_done_files(self, info: dict) -> None:
        """Rebuilds every shard's done file from a finished run's dataset.json and failures.txt."""
        failures = {}
        for line in self.files.read(os.path.join(self.output_dir, FAILURES_TXT)).decode("utf-8").splitlines():
            split, source, reason = line.split("\t", 2)
            failures[(split, source)] = reason
        for split, entries in self.plan.items():
            videos = iter(info["videos"][split])
            for shard in range(self.shards[split]):
                done = {"videos": [], "failures": []}
                for position in self.positions(split, shard):
                    reason = failures.get((split, entries[position].source))
                    if reason is None:
                        done["videos"].append([position, next(videos)])
                    else:
                        done["failures"].append([position, reason])
                self.files.write(self._done_path(split, shard), json.dumps(done).encode())

    def start(self) -> None:
        """Creates ``.partial``, or checks that it belongs to this preparation; drops our leftovers.

        Raises:
          ValueError: ``output_dir`` holds an unfinished or finished other preparation.
        """
        manifest = os.path.join(self.partial, "manifest.json")
        if self.files.exists(manifest):
            if json.loads(self.files.read(manifest))["fingerprint"] != self.fingerprint:
                raise ValueError(
                    f"output_dir {self.output_dir} holds an unfinished preparation with other "
                    "videos or options; delete it or choose another output_dir"
                )
        elif not self.files.exists(os.path.join(self.output_dir, dataset_info.DATASET_JSON)) and (
            any(name.endswith(".tfrecord") for name in self.files.listdir(self.output_dir))
            or self.files.listdir(os.path.join(self.output_dir, FRAMES_DIR))
        ):
            raise ValueError(f"output_dir {self.output_dir} already holds shards of another preparation")
        self.files.makedirs(self.partial)
        self.files.write(manifest, json.dumps({"fingerprint": self.fingerprint}).encode())
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        """Deletes the temporary files a killed run left: only names of our own scheme."""
        ours = {os.path.basename(self.shard_path(split, shard))
                for split in self.plan for shard in range(self.shards[split])}
        ours |= {dataset_info.DATASET_JSON, FAILURES_TXT}
        folders = {self.output_dir: ours, self.partial: None}  # None: any final name.
        if self.writes_frames:
            for entries in self.plan.values():
                for entry in entries:
                    parent, name = os.path.split(self.frames_path(entry.media_id))
                    folders.setdefault(parent, set()).add(name)
        for folder, finals in folders.items():
            for name in self.files.listdir(folder):
                match = _TEMPORARY.match(name)
                if match and (finals is None or match["final"] in finals):
                    self.files.remove(os.path.join(folder, name))

    def pending(self) -> dict[tuple[str, int], list[int]]:
        """Shards not committed yet -> positions of their videos not saved yet."""
        todo = {}
        for split in self.plan:
            for shard in range(self.shards[split]):
                if not self.files.exists(self._done_path(split, shard)):
                    todo[(split, shard)] = [p for p in self.positions(split, shard) if not self._saved(split, p)]
        return todo

    def _saved(self, split: str, position: int) -> bool:
        return any(self.files.exists(self._partial(split, position, s)) for s in (".json", ".fail"))

    # -- Writing.

    def save(self, result: worker.Result) -> None:
        """Saves one worker result (atomically; the ``.json`` or ``.fail`` file comes last)."""
        split, position = result.split, result.position
        if result.record is None:
            self.files.write(self._partial(split, position, ".fail"), result.reason.encode("utf-8"))
            return
        if self.writes_frames:
            folder = self.frames_path(result.record.media_id)
            if not self.files.exists(folder):  # A complete folder of a resumed run stays.
                self.files.makedirs(os.path.dirname(folder))
                self.files.write_folder(folder, frame_files(result.record))
        if self.writes_records:
            self.files.write(self._partial(split, position, ".rec"), result.record.serialize())
        self.files.write(self._partial(split, position, ".json"), json.dumps(video_info(result.record)).encode())

    def commit_shard(self, split: str, shard: int) -> None:
        """Writes a shard whose videos are all saved (records in position order), then drops their files."""
        done = {"videos": [], "failures": []}
        payloads = []
        for position in self.positions(split, shard):
            failure = self._partial(split, position, ".fail")
            if self.files.exists(failure):
                done["failures"].append([position, self.files.read(failure).decode("utf-8")])
                continue
            done["videos"].append([position, json.loads(self.files.read(self._partial(split, position, ".json")))])
            if self.writes_records:
                payloads.append(self.files.read(self._partial(split, position, ".rec")))
        if self.writes_records:
            self.files.write_tfrecord(self.shard_path(split, shard), payloads)
        self.files.write(self._done_path(split, shard), json.dumps(done).encode())
        for position in self.positions(split, shard):
            for suffix in (".rec", ".json", ".fail"):
                self.files.remove(self._partial(split, position, suffix))

    def finish(self, index: splits.DatasetIndex, options: worker.PrepareOptions, kind: str, command: str,
               runner: str) -> tuple[dict, list[str]]:
        """Writes failures.txt and dataset.json once every shard is committed; removes ``.partial``.

        Returns:
          dataset.json's content and the lines of failures.txt.
        """
        videos, failures = {}, []
        for split, entries in self.plan.items():
            videos[split], split_failures = [], []
            for shard in range(self.shards[split]):
                done = json.loads(self.files.read(self._done_path(split, shard)))
                videos[split] += [info for _, info in done["videos"]]
                split_failures += [splits.Failure(split, entries[p].source, reason) for p, reason in done["failures"]]
            failures += sorted(split_failures, key=lambda failure: failure.item)
        failure_lines = [f.line() for f in index.failures + failures]
        self.files.write(os.path.join(self.output_dir, FAILURES_TXT),
                         "".join(line + "\n" for line in failure_lines).encode("utf-8"))
        sizes = {(info["height"], info["width"]) for split_videos in videos.values() for info in split_videos}
        dataset = dataset_info.dataset_info_content(
            class_names=index.class_names,
            split_counts={split: len(split_videos) for split, split_videos in videos.items()},
            frame_size=list(sizes.pop()) if len(sizes) == 1 else None,
            flow_method=options.flow,
            compensated=options.flow_compensation,
            multi_label=index.multi_label,
            command=command,
            num_shards=self.shards,
            extra={
                "source": kind,
                "resize": list(options.resize) if options.resize and not options.short_side else None,
                "short_side": options.short_side,
                "jpeg_quality": options.jpeg_quality,
                "tvl1": _tvl1_info(options),
                "failures": len(failure_lines),
                "shuffle_seed": SHUFFLE_SEED,
                "fingerprint": self.fingerprint,
                "format": self.output_format,
                "frames_dir": FRAMES_DIR,
                "runner": runner,
                "videos": videos,
            },
        )
        # Through the store's file system, so a remote output_dir (gs://, under Beam) gets it too.
        self.files.write(os.path.join(self.output_dir, dataset_info.DATASET_JSON),
                         dataset_info.encode_dataset_info(dataset))
        self.files.remove(self.partial)
        return dataset, failure_lines
