"""Sharded, parallel, resumable preparation of a dataset directory (SPEC §4): the orchestrator.

Who does what:

  splits.DatasetIndex --> prepare_dataset (here) --plans--> store.ShardStore
                                |                          (fixed shuffle: shard, position;
                                | jobs of unfinished        manifest; resume)
                                v shards
                          runners.JobRunner ---------> worker.process(job) -> Result
                          (in-process | process pool |   (one video -> one record or a
                           beam_runner.BeamRunner)        failure reason; writes nothing)
                                |
                                v results
                          store.save / commit_shard / finish
                          (.partial files, shards, frame folders, failures.txt, dataset.json)

With flow "tvl1_tf" a runner splits each job into worker.process, a flow stage
that batches frame pairs across videos (one process, the accelerator's), and
worker.encode (runners.FlowStage; beam_runner batches with BatchElements).

A killed run resumes: committed shards and saved videos are kept, the rest is
done again; the output equals that of an uninterrupted run byte for byte.
"""

import dataclasses
import os
import sys
import time
from collections.abc import Callable

from iastp_tf.data.prepare import flow as flow_lib, runners, splits, store as store_lib, worker

# The names callers know from before the split into worker / store / runners.
PrepareOptions = worker.PrepareOptions
PARTIAL_DIR = store_lib.PARTIAL_DIR
FAILURES_TXT = store_lib.FAILURES_TXT
OUTPUT_FORMATS = store_lib.OUTPUT_FORMATS


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


class _SourceResolver:
    """Finds each entry's video file or rawframes folder under a root.

    A source at its listed path is found through ``files`` (so on a remote
    file system too); the search by file stem or alias lists local folders only.
    """

    def __init__(self, root: str, kind: str, files: store_lib.Files):
        self.root = root
        self.kind = kind
        self.files = files
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
        if self.files.exists(direct):
            return direct
        stem = os.path.splitext(os.path.basename(entry.source))[0]
        for name in (stem, *entry.aliases):
            if name in self._index():
                return self._index()[name]
        return ""


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
    output_format: str = "records",
    runner: runners.JobRunner | None = None,
    flow_batch_size: int = flow_lib.DEFAULT_FLOW_BATCH_SIZE,
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
      workers: worker processes of the local runner; 0 runs in this process.
      num_shards: shards per split (at most one per video); by default one
        per 64 videos.
      command: the command line, recorded in dataset.json.
      progress: show a progress bar (videos/s, ETA) on stderr.
      on_video_done: called with the number of videos this run has finished,
        after each one (tests interrupt a run by raising from it).
      output_format: "records" (TFRecord shards), "frames" (a frame folder
        per video under ``frames/``) or "both".
      runner: the ``runners.JobRunner`` to use (e.g. ``beam_runner.BeamRunner``);
        by default the local one that ``workers`` describes.
      flow_batch_size: frame pairs per call of flow "tvl1_tf" for the default
        runner (a given ``runner`` has its own). It does not change the output.

    Returns:
      A ``PrepareSummary``.

    Raises:
      ValueError: bad arguments, no videos, or ``output_dir`` holds another preparation.
    """
    if (videos_dir is None) == (rawframes_dir is None):
        raise ValueError("give exactly one of videos_dir and rawframes_dir")
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    kind = "video" if videos_dir is not None else "rawframes"
    root = videos_dir if kind == "video" else rawframes_dir
    if not index.entries:
        raise ValueError(f"no videos to prepare: the split lists of {root} name none (empty folder?)")
    if runner is None:
        runner = (runners.InProcessRunner(flow_batch_size) if workers == 0
                  else runners.ProcessPoolRunner(workers, flow_batch_size))
    started = time.perf_counter()
    runner.files.makedirs(output_dir)
    store = store_lib.ShardStore(output_dir, index, kind=kind, options=options, output_format=output_format,
                                 num_shards=num_shards, files=runner.files)

    finished = store.finished()
    if finished is not None:  # Finished before and complete: nothing to do.
        failure_lines = runner.files.read(os.path.join(output_dir, FAILURES_TXT)).decode("utf-8").splitlines()
        return PrepareSummary(output_dir, finished["splits"], failure_lines, 0,
                              time.perf_counter() - started, finished)
    store.start()

    resolver = _SourceResolver(root, kind, runner.files)
    jobs = []
    for (split, shard), positions in store.pending().items():
        if not positions:  # Every video saved by a killed run, the shard not yet written.
            store.commit_shard(split, shard)
        for position in positions:
            entry = store.plan[split][position]
            jobs.append(worker.Job(split, position, entry, kind, resolver(entry), options))

    bar = None  # Made at the first result: a runner that reports none (Beam) shows its own progress.
    counts = {"finished": 0, "failed": 0}

    def on_result(result: worker.Result) -> None:
        nonlocal bar
        counts["finished"] += 1
        counts["failed"] += result.record is None
        if progress and bar is None:
            from tqdm import tqdm

            bar = tqdm(total=len(jobs), unit="video", file=sys.stderr, dynamic_ncols=True,
                       desc=f"preparing {os.path.basename(os.path.normpath(output_dir))}")
        if bar is not None:
            bar.set_postfix(failed=counts["failed"], refresh=False)
            bar.update(1)
        if on_video_done is not None:
            on_video_done(counts["finished"])

    try:
        runner.run(jobs, store, on_result)
    finally:
        if bar is not None:
            bar.close()
    dataset, failure_lines = store.finish(index, options, kind, command, runner.name)
    return PrepareSummary(output_dir, dataset["splits"], failure_lines, len(jobs),
                          time.perf_counter() - started, dataset)
