"""Preparation on Apache Beam: the same worker and shard store, Beam's workers and grouping.

  jobs --Create--> Reshuffle --Prepare--> (split, shard) -> position --GroupByKey--> Commit
                                |                                                      |
              worker.process(job) on a local copy                     store.commit_shard(split, shard)
              store.save(result): per-video files, frame folder       (records in position order,
                                                                       written atomically)

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

try:
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions
except ImportError as error:
    raise ImportError(
        "the Beam runner needs Apache Beam, the 'beam' extra of iastp_tf: "
        "pip install -e \".[beam]\" (or pip install \"apache-beam>=2.69\")"
    ) from error

from iastp_tf.data.prepare import records, store as store_lib, worker


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
    """Runs one job on a local copy of its source and saves the result; emits its shard key."""

    def __init__(self, store: store_lib.ShardStore):
        self._store = store

    def setup(self):
        worker.init_worker()

    def process(self, job: worker.Job):
        if not job.path or _is_local(job.path):
            result = worker.process(job)
        else:
            result = self._process_copy(job)
        self._store.save(result)
        yield (job.split, self._store.shard_of(job.split, job.position)), job.position

    @staticmethod
    def _process_copy(job: worker.Job) -> worker.Result:
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


class BeamRunner:
    """Runs preparation jobs as an Apache Beam pipeline (``runners.JobRunner``).

    Args:
      beam_options: Beam pipeline options as one command-line string, e.g.
        ``"--runner=DirectRunner --direct_num_workers=2 --direct_running_mode=multi_processing"``
        or Dataflow's ``"--runner=DataflowRunner --project=... --region=... --temp_location=gs://..."``.
    """

    name = "beam"

    def __init__(self, beam_options: str = ""):
        self.beam_options = shlex.split(beam_options)
        self.files = BeamFiles()

    def run(self, jobs: Sequence[worker.Job], store: store_lib.ShardStore, on_result) -> None:
        """Runs the pipeline to the end; ``on_result`` is not called (Beam shows its own progress)."""
        if not jobs:
            return
        with beam.Pipeline(options=PipelineOptions(self.beam_options)) as pipeline:
            _ = (
                pipeline
                | "Jobs" >> beam.Create(list(jobs), reshuffle=False)
                | "Spread" >> beam.Reshuffle()
                | "Prepare" >> beam.ParDo(_Prepare(store))
                | "ByShard" >> beam.GroupByKey()
                | "Commit" >> beam.MapTuple(lambda key, positions: store.commit_shard(*key))
            )
