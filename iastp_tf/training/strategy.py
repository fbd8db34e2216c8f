"""Distribution strategy by name (SPEC §5).

* ``"default"``: the default strategy (one device).
* ``"mirrored"``: ``MirroredStrategy`` over the local GPUs (or the given
  devices, e.g. logical CPUs in tests).
* ``"multi_worker"``: ``MultiWorkerMirroredStrategy`` with the cluster read from
  the ``TF_CONFIG`` environment variable, e.g. for two machines
  ``{"cluster": {"worker": ["host1:12345", "host2:12345"]},
  "task": {"type": "worker", "index": 0}}`` (index 1 on the second).
  Every worker runs the same command; worker 0 (the chief) writes the
  checkpoints and logs of the workdir, the others write to scratch folders.
"""

import os

import gin
import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker")

# One MirroredStrategy per device set and process, however the devices were
# named: each new strategy restarts
# TF's collective instance keys, so a second one over the same devices reuses
# keys with other shapes and its all-reduces fail ("Shape mismatch in the
# collective instance").
_MIRRORED = {}


@gin.configurable
def make_strategy(name="default", devices=None) -> tf.distribute.Strategy:
    """The strategy called ``name`` (one of :data:`STRATEGIES`)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy(devices=devices)
        # Keyed by the devices it runs on, so that `devices=None` and the same
        # devices named explicitly share one strategy.
        return _MIRRORED.setdefault(tuple(sorted(strategy.extended.worker_devices)), strategy)
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("strategy 'multi_worker' needs the cluster in the TF_CONFIG environment variable")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"name must be one of {STRATEGIES}, got {name!r}")


def is_chief(strategy) -> bool:
    """Whether this process writes the shared outputs (always true off multi-worker).

    The chief is the task of type ``chief`` if the cluster has one, else worker 0.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    resolver = strategy.cluster_resolver
    if "chief" in resolver.cluster_spec().as_dict():
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and resolver.task_id == 0


def worker_dir(workdir, strategy) -> str:
    """``workdir`` on the chief; a per-worker scratch folder under it elsewhere."""
    if is_chief(strategy):
        return workdir
    return os.path.join(workdir, "workers", f"{strategy.cluster_resolver.task_type}_{strategy.cluster_resolver.task_id}")
