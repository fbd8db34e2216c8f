"""Job runners: who runs the workers' jobs, and where (preparation).

A ``JobRunner`` gets the jobs of the shards still to do and the shard store.
It must leave every job's result saved in the store and every shard of the
jobs committed; how it spreads the work is its own business. Two live here:

  InProcessRunner    one job after the other, in this process
  ProcessPoolRunner  spawned worker processes, a bounded number of jobs in flight

Both save each result and commit a shard when its last video is saved
(``ShardCommitter``). With a batched flow method ("tvl1_tf") both run a job in
three stages (``worker.process``, the flow, ``worker.encode``): the decoding and
JPEG encoding where the jobs run, the flow of all videos' frame pairs in this
process, in batches across videos (``FlowStage``), so an accelerator here never
waits on one video. The Beam runner (``beam_runner``) is a third, on a
cluster: the same worker and store, Beam's grouping by shard.
"""

import collections
import concurrent.futures
import concurrent.futures.process
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import cv2

from iastp_tf.data.prepare import flow as flow_lib
from iastp_tf.data.prepare import store as store_lib
from iastp_tf.data.prepare import worker

OnResult = Callable[[worker.Result], None]


class JobRunner(Protocol):
    """Runs preparation jobs.

    Attributes:
      name: recorded in dataset.json ("local", "beam").
      files: the file operations the store must use with this runner.
    """

    name: str
    files: store_lib.Files

    def run(self, jobs: Sequence[worker.Job], store: store_lib.ShardStore, on_result: OnResult) -> None:
        """Runs every job; leaves each result saved in ``store`` and each shard of ``jobs`` committed.

        ``on_result`` is called after each result is saved, where the runner
        can (for progress); an exception from it stops the run.
        """


class ShardCommitter:
    """Saves results and commits each shard as soon as its last pending video is saved."""

    def __init__(self, jobs: Sequence[worker.Job], store: store_lib.ShardStore, on_result: OnResult):
        self._store = store
        self._on_result = on_result
        self._remaining = collections.Counter((job.split, store.shard_of(job.split, job.position)) for job in jobs)

    def __call__(self, result: worker.Result) -> None:
        self._store.save(result)
        key = (result.split, self._store.shard_of(result.split, result.position))
        self._remaining[key] -= 1
        if self._remaining[key] == 0:
            self._store.commit_shard(*key)
        self._on_result(result)


class FlowStage:
    """The flow stage of batched flow methods: ``worker.Decoded`` videos in, their fields out once computed.

    Made on the first video (TensorFlow is imported then, in this process only).

    Args:
      batch_size: frame pairs per TV-L1 call (``flow.FlowBatcher``).
    """

    def __init__(self, batch_size: int = flow_lib.DEFAULT_FLOW_BATCH_SIZE):
        if batch_size < 1:
            raise ValueError(f"flow_batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self._batcher = None
        self._waiting: dict[tuple[str, int], worker.Decoded] = {}

    def add(self, decoded: worker.Decoded) -> list[tuple[worker.Decoded, list]]:
        """Queues a video's frame pairs; returns the videos (with their T-1 fields) that full batches completed."""
        if self._batcher is None:
            options = decoded.options
            params = flow_lib.tvl1_tf_params(options.tvl1_preset, options.tvl1_scales, options.tvl1_warps)
            self._batcher = flow_lib.FlowBatcher(params, self.batch_size)
        self._waiting[decoded.key] = decoded.without_grey()  # not kept, nor sent back to encode
        return self._finished(self._batcher.add(decoded.key, decoded.grey))

    def flush(self) -> list[tuple[worker.Decoded, list]]:
        """Computes every waiting pair; returns the videos completed."""
        return [] if self._batcher is None else self._finished(self._batcher.flush())

    def _finished(self, done) -> list[tuple[worker.Decoded, list]]:
        return [(self._waiting.pop(key), fields) for key, fields in done]


class InProcessRunner:
    """Runs the jobs one after the other in this process, with one OpenCV thread.

    Args:
      flow_batch_size: frame pairs per call of a batched flow method.
    """

    name = "local"

    def __init__(self, flow_batch_size: int = flow_lib.DEFAULT_FLOW_BATCH_SIZE):
        self.files = store_lib.LocalFiles()
        self.flow_batch_size = flow_batch_size

    def run(self, jobs: Sequence[worker.Job], store: store_lib.ShardStore, on_result: OnResult) -> None:
        handle = ShardCommitter(jobs, store, on_result)
        stage = FlowStage(self.flow_batch_size)
        threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            for job in jobs:
                first = worker.process(job)
                if isinstance(first, worker.Result):
                    handle(first)
                    continue
                for decoded, fields in stage.add(first):
                    handle(worker.encode(decoded, fields))
            for decoded, fields in stage.flush():
                handle(worker.encode(decoded, fields))
        finally:
            cv2.setNumThreads(threads)


_PR_SET_PDEATHSIG = 1  # From <linux/prctl.h>.
PARENT_WATCH_SECONDS = 1.0


def _end_with_parent(parent_pid: int) -> None:
    """Makes this worker process end when ``parent_pid`` dies, even by ``kill -9``.

    On Linux the kernel sends SIGKILL at the parent's death (``PR_SET_PDEATHSIG``);
    everywhere, a daemon thread checks every second that the parent is still
    ours and exits otherwise (the fallback, and the guard against a parent that
    died before the signal was set).
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(PARENT_WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _init_pool_worker(parent_pid: int) -> None:
    worker.init_worker()
    _end_with_parent(parent_pid)


class ProcessPoolRunner:
    """Runs the jobs in spawned worker processes, in order, at most ``2 * workers`` in flight.

    With a batched flow method the workers decode videos and encode the
    fields' JPEGs while this process computes the flow (``FlowStage``).

    Args:
      workers: worker processes (>= 1).
      flow_batch_size: frame pairs per call of a batched flow method.
    """

    name = "local"

    def __init__(self, workers: int, flow_batch_size: int = flow_lib.DEFAULT_FLOW_BATCH_SIZE):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.flow_batch_size = flow_batch_size
        self.files = store_lib.LocalFiles()

    def run(self, jobs: Sequence[worker.Job], store: store_lib.ShardStore, on_result: OnResult) -> None:
        handle = ShardCommitter(jobs, store, on_result)
        context = multiprocessing.get_context("spawn")
        pool = concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=context,
                                                      initializer=_init_pool_worker, initargs=(os.getpid(),))
        stage = FlowStage(self.flow_batch_size)
        try:
            pending = iter(jobs)
            decoding, encoding = set(), set()

            def decode_next():
                for job in pending:
                    decoding.add(pool.submit(worker.process, job))
                    return

            def encode(finished):
                encoding.update(pool.submit(worker.encode, decoded, fields) for decoded, fields in finished)

            for _ in range(2 * self.workers):
                decode_next()
            while decoding or encoding:
                done, _ = concurrent.futures.wait(decoding | encoding, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    try:
                        result = future.result()
                    except concurrent.futures.process.BrokenProcessPool as error:
                        raise RuntimeError(
                            "a worker process died (killed, out of memory, or a crash inside OpenCV); "
                            "finished videos are kept: run the same command again to resume"
                        ) from error
                    if isinstance(result, worker.Decoded):
                        encode(stage.add(result))
                    else:
                        handle(result)
                    if future in decoding:
                        decoding.discard(future)
                        decode_next()
                    encoding.discard(future)
                if not decoding:  # Every video decoded: the last, partial batches.
                    encode(stage.flush())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
