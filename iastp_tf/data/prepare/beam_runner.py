"""Preparation on Apache Beam: the same worker and shard store, Beam's workers and grouping.

  jobs --Create--> Reshuffle --Prepare--> (split, shard) -> position --GroupByKey--> Commit
                                |                                                      |
              worker.process(job) on a local copy                     store.commit_shard(split, shard)
              store.save(result): per-video files, frame folder       (records in position order,
                                                                       written atomically)

With a batched flow method ("tvl1_tf") a job runs in three stages, the flow
on batches of frame pairs from many videos, so that GPU workers can run it:

  Prepare (worker.process) --> shard keys of saved videos (failures, stored flow) ---+
     |                                                                              |
     +--> (key, Decoded) --Pairs--> BatchElements --Flow--> (key, (t, field))       |
               |                                                 |                  |
               +------------------ CoGroupByKey -----------------+                  |
                                        |                                           |
                                        +--Encode (worker.encode, save)--> keys ----+--> ByShard --> Commit

A pair's field does not depend on which pairs share its batch (see
``flow.tvl1_tf_batch``), so the output is still the local runner's.

The store is the local runner's, so the shards, ``failures.txt`` and
``dataset.json`` are too (``dataset.json`` names the runner). Every file goes
through ``apache_beam.io.filesystems`` (``BeamFiles``), so the output
directory may be ``gs://``, ``s3://`` or ``hdfs://`` on a cluster; a video on
such a file system is copied to local scratch for OpenCV. Beam retries a
failed bundle: saving and committing are atomic and idempotent. A rerun after
a killed job keeps committed shards and saved videos, like the local runner.

Needs the ``beam`` extra: ``pip install -e ".[beam]"``.
"""

import os
import shlex
import shutil
import tempfile
from collections.abc import Sequence

import numpy as np

try:
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions
except ImportError as error:
    raise ImportError(
        "the Beam runner needs Apache Beam, the 'beam' extra of iastp_tf: "
        "pip install -e \".[beam]\" (or pip install \"apache-beam>=2.69\")"
    ) from error

from iastp_tf.data.prepare import flow as flow_lib
from iastp_tf.data.prepare import records, store as store_lib, worker

_DECODED = "decoded"


class BeamFiles:
    """``store.Files`` through Beam's file systems (local, gs://, s3://, hdfs://)."""

    def exists(self, path: str) -> bool:
        return FileSystems.exists(path)

    def makedirs(self, path: str) -> None:
        if not FileSystems.exists(path):
            FileSystems.mkdirs(path)

    def listdir(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        if not FileSystems.exists(path):
            return []
        matched = FileSystems.match([prefix + "*"])[0].metadata_list
        return sorted({m.path[len(prefix):].split("/")[0] for m in matched})

    def read(self, path: str) -> bytes:
        with FileSystems.open(path, compression_type="uncompressed") as f:
            return f.read()

    def _create(self, path: str, data: bytes) -> None:
        with FileSystems.create(path, compression_type="uncompressed") as f:
            f.write(data)

    def write(self, path: str, data: bytes) -> None:
        temporary = records.temporary_path(path)
        self._create(temporary, data)
        FileSystems.rename([temporary], [path])

    def write_folder(self, path: str, files: dict[str, bytes]) -> None:
        temporary = records.temporary_path(path)
        self.remove(temporary)
        for name, data in files.items():
            self._create(FileSystems.join(temporary, name), data)
        FileSystems.rename([temporary], [path])

    def write_tfrecord(self, path: str, payloads: Sequence[bytes]) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            local = os.path.join(scratch, "shard.tfrecord")
            records.write_tfrecord(local, payloads)
            with open(local, "rb") as f:
                self.write(path, f.read())

    def remove(self, path: str) -> None:
        if FileSystems.exists(path):
            FileSystems.delete([path])


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


class _Prepare(beam.DoFn):
    """Runs one job (``worker.process``) on a local copy of its source.

    A ``Result`` is saved and its shard key emitted; a ``Decoded`` video, which
    needs the flow stage, goes to the ``_DECODED`` output as (key, video).
    """

    def __init__(self, store: store_lib.ShardStore):
        self._store = store

    def setup(self):
        worker.init_worker()

    def process(self, job: worker.Job):
        if not job.path or _is_local(job.path):
            result = worker.process(job)
        else:
            result = self._process_copy(job)
        if isinstance(result, worker.Decoded):
            yield beam.pvalue.TaggedOutput(_DECODED, (result.key, result))
            return
        self._store.save(result)
        yield (job.split, self._store.shard_of(job.split, job.position)), job.position

    @staticmethod
    def _process_copy(job: worker.Job) -> worker.Result | worker.Decoded:
        scratch = tempfile.mkdtemp(prefix="iastp-prepare-")
        try:
            sources = [job.path] if job.kind == "video" else [
                m.path for m in FileSystems.match([job.path.rstrip("/") + "/*.jpg"])[0].metadata_list]
            for source in sources:
                with FileSystems.open(source, compression_type="uncompressed") as f, \
                        open(os.path.join(scratch, os.path.basename(source)), "wb") as out:
                    shutil.copyfileobj(f, out)
            local = os.path.join(scratch, os.path.basename(job.path)) if job.kind == "video" else scratch
            return worker.process(worker.Job(job.split, job.position, job.entry, job.kind, local, job.options))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _pairs(keyed):
    """(key, Decoded) -> its frame pairs (key, t, previous [H, W], current [H, W]), uint8."""
    key, decoded = keyed
    for t in range(len(decoded.grey) - 1):
        yield key, t, decoded.grey[t], decoded.grey[t + 1]


class _Flow(beam.DoFn):
    """TV-L1 (TensorFlow) of a batch of frame pairs from ``BatchElements``: (key, (t, field [H, W, 2])) each.

    Pairs are grouped by frame size; each group runs padded to ``batch_size`` pairs.
    """

    def __init__(self, options: worker.PrepareOptions, batch_size: int):
        self._options = options
        self._batch_size = batch_size
        self._params = None

    def setup(self):
        self._params = flow_lib.tvl1_tf_params(self._options.tvl1_preset, self._options.tvl1_scales,
                                               self._options.tvl1_warps)

    def process(self, batch):
        by_size = {}
        for pair in batch:
            by_size.setdefault(pair[2].shape, []).append(pair)
        for pairs in by_size.values():
            for start in range(0, len(pairs), self._batch_size):
                chunk = pairs[start:start + self._batch_size]
                fields = flow_lib.tvl1_tf_batch(np.stack([p[2] for p in chunk]), np.stack([p[3] for p in chunk]),
                                                self._params, self._batch_size)
                for (key, t, _, _), field in zip(chunk, fields):
                    yield key, (t, field)


class _Encode(beam.DoFn):
    """(key, {"video": [Decoded], "fields": [(t, field)]}) -> the record saved; emits its shard key."""

    def __init__(self, store: store_lib.ShardStore):
        self._store = store

    def setup(self):
        worker.init_worker()

    def process(self, grouped):
        (split, position), parts = grouped
        (decoded,) = parts["video"]
        fields = [field for _, field in sorted(parts["fields"], key=lambda tf: tf[0])]
        self._store.save(worker.encode(decoded, fields))
        yield (split, self._store.shard_of(split, position)), position


class BeamRunner:
    """Runs preparation jobs as an Apache Beam pipeline (``runners.JobRunner``).

    Args:
      beam_options: Beam pipeline options as one command-line string, e.g.
        ``"--runner=DirectRunner --direct_num_workers=2 --direct_running_mode=multi_processing"``
        or Dataflow's ``"--runner=DataflowRunner --project=... --region=... --temp_location=gs://..."``.
      flow_batch_size: frame pairs per TV-L1 call of a batched flow method
        (``BatchElements``' batch size; smaller batches are padded to it).
    """

    name = "beam"

    def __init__(self, beam_options: str = "", flow_batch_size: int = flow_lib.DEFAULT_FLOW_BATCH_SIZE):
        if flow_batch_size < 1:
            raise ValueError(f"flow_batch_size must be >= 1, got {flow_batch_size}")
        self.beam_options = shlex.split(beam_options)
        self.flow_batch_size = flow_batch_size
        self.files = BeamFiles()

    def run(self, jobs: Sequence[worker.Job], store: store_lib.ShardStore, on_result) -> None:
        """Runs the pipeline to the end; ``on_result`` is not called (Beam shows its own progress)."""
        if not jobs:
            return
        options = jobs[0].options
        with beam.Pipeline(options=PipelineOptions(self.beam_options)) as pipeline:
            prepared = (
                pipeline
                | "Jobs" >> beam.Create(list(jobs), reshuffle=False)
                | "Spread" >> beam.Reshuffle()
                | "Prepare" >> beam.ParDo(_Prepare(store)).with_outputs(_DECODED, main="saved")
            )
            saved = prepared.saved
            if options.flow in flow_lib.BATCHED_METHODS:
                decoded = prepared[_DECODED]
                fields = (
                    decoded
                    | "Pairs" >> beam.FlatMap(_pairs)
                    | "Batch" >> beam.BatchElements(min_batch_size=self.flow_batch_size,
                                                    max_batch_size=self.flow_batch_size)
                    | "Flow" >> beam.ParDo(_Flow(options, self.flow_batch_size))
                )
                videos = decoded | "DropGrey" >> beam.MapTuple(lambda key, video: (key, video.without_grey()))
                encoded = (
                    {"video": videos, "fields": fields}
                    | "Join" >> beam.CoGroupByKey()
                    | "Encode" >> beam.ParDo(_Encode(store))
                )
                saved = (saved, encoded) | "AllSaved" >> beam.Flatten()
            _ = (
                saved
                | "ByShard" >> beam.GroupByKey()
                | "Commit" >> beam.MapTuple(lambda key, positions: store.commit_shard(*key))
            )
