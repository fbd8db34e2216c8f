"""The training loop: eq. 12 under any ``tf.distribute`` strategy, resumable at its last checkpoint.

A custom loop rather than ``model.fit``: Keras 3.15's ``fit`` does not run under
``MultiWorkerMirroredStrategy`` (keras-team/keras#20585; it fails converting a
``PerReplica`` value in its internal reductions, tensorflow/tensorflow#72388),
and its ``BackupAndRestore`` restores mid-epoch weights but replays the epoch
from batch 0. This loop uses one code path for every strategy:

* one step: per-video loss averaged over the GLOBAL batch
  (``tf.nn.compute_average_loss``), the layers' ``add_loss`` terms and the
  weight decay divided by the number of replicas
  (``tf.nn.scale_regularization_loss``), gradients summed across replicas by
  the Keras optimizer;
* training runs in intervals of ``checkpoint_every`` iterations; after each,
  a ``tf.train.Checkpoint`` of the model, the optimizer (its iteration count is
  the learning-rate schedule's state), the dropout seed generators and,
  optionally, the input iterator is
  written, so a killed run restarted with the same workdir continues at the
  last interval boundary; with the iterator checkpointed and deterministic
  input it ends with the same weights as an uninterrupted run;
* a corrupt newest checkpoint (a run killed while writing it, a truncated
  copy) is reported with a warning naming it, and the previous one is
  restored instead;
* training stops at the first non-finite loss with ``FloatingPointError``
  naming the step and the last good checkpoint, before anything is saved;
* logs per interval: one log line (global step, ETA, the classification
  loss, each added loss, weight decay, accuracy), ``train_log.csv``,
  TensorBoard scalars under ``tensorboard/``, ``last.weights.h5`` and
  ``best.weights.h5`` (highest validation headline metric; without
  validation, lowest classification loss: the added losses keep falling
  long after the classifier has stopped improving), both written atomically.
  On a terminal the global step and ETA are also shown step by step.

Under ``MultiWorkerMirroredStrategy`` every worker runs the loop and saves
(saving is collective); only the chief writes the workdir, the others write
to scratch folders (:func:`iastp_tf.training.strategy.worker_dir`).
"""

import csv
import datetime
import math
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from iastp_tf import runs
from iastp_tf.training import optimizer as optimizer_lib
from iastp_tf.training import strategy as strategy_lib


def _accuracy_counts(labels, logits, multi_label):
    """(correct, total) of one replica's batch: top-1 hits, or thresholded per-class hits."""
    logits = tf.cast(logits, tf.float32)
    if multi_label:
        hits = tf.equal(tf.cast(logits > 0, tf.float32), tf.cast(labels, tf.float32))
    else:
        hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), tf.cast(labels, tf.int32))
    hits = tf.cast(hits, tf.float32)
    return tf.reduce_sum(hits), tf.cast(tf.size(hits), tf.float32)


def make_train_step(model, optimizer, strategy, multi_label, weight_decay, jit_compile, gradient_clip_norm=None):
    """A ``tf.function`` running one distributed step on ``next(iterator)``.

    Returns per step a dict of global sums: ``loss`` (the whole eq. 12 value,
    already the global mean), ``cross_entropy``, ``extra_losses`` (the
    layers' ``add_loss`` terms), ``weight_decay``, ``correct`` and ``count``.
    ``gradient_clip_norm`` bounds the global norm of the batch's gradient (TSN).
    """
    scales_loss = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)

    def replica_step(inputs):
        frames, labels = inputs
        with tf.GradientTape() as tape:
            logits = model(frames, training=True)
            per_video = optimizer_lib.classification_loss(labels, logits, multi_label)
            cross_entropy = tf.nn.compute_average_loss(per_video)
            extra = tf.add_n([tf.cast(l, tf.float32) for l in model.losses]) if model.losses else 0.0
            extra = tf.convert_to_tensor(extra, tf.float32)
            decay = optimizer_lib.weight_decay_loss(model, weight_decay)
            loss = cross_entropy + tf.nn.scale_regularization_loss(extra + decay)
            scaled = optimizer.scale_loss(loss) if scales_loss else loss
        gradients = tape.gradient(scaled, model.trainable_variables)
        if gradient_clip_norm is not None:  # on the scaled gradients, so the bound scales too
            bound = gradient_clip_norm * (optimizer.dynamic_scale if scales_loss else 1.0)
            gradients = optimizer_lib.clip_by_global_norm_over_replicas(gradients, bound)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        correct, count = _accuracy_counts(labels, logits, multi_label)
        replicas = tf.cast(strategy.num_replicas_in_sync, tf.float32)
        return {
            "loss": loss,
            "cross_entropy": cross_entropy,
            "extra_losses": extra / replicas,
            "weight_decay": decay / replicas,
            "correct": correct,
            "count": count,
        }

    replica_fn = tf.function(replica_step, jit_compile=True) if jit_compile else replica_step

    @tf.function
    def train_step(iterator):
        per_replica = strategy.run(replica_fn, args=(next(iterator),))
        return {
            name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
            for name, value in per_replica.items()
        }

    return train_step


class _IntervalLog:
    """Sums step results over one interval and turns them into means."""

    def __init__(self):
        self.sums, self.steps = {}, 0

    def add(self, step_values):
        """``step_values``: the step's sums as Python floats."""
        for name, value in step_values.items():
            self.sums[name] = self.sums.get(name, 0.0) + value
        self.steps += 1

    def means(self):
        logs = {
            name: self.sums[name] / self.steps
            for name in ("loss", "cross_entropy", "extra_losses", "weight_decay")
        }
        logs["accuracy"] = self.sums["correct"] / max(self.sums["count"], 1.0)
        return logs


class _Progress:
    """Global step and ETA: rewritten in place on a terminal, silent otherwise (intervals are logged)."""

    def __init__(self, first_step, total_steps, stream=None):
        self.stream = stream or sys.stdout
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.first_step, self.total_steps = first_step, total_steps
        self.start = None
        self.line_open = False  # a live line waits for its newline

    def describe(self, step) -> str:
        """``"step 120/400 (30%), ETA 0:01:27"``; the rate is measured from the first step done here."""
        now = time.time()
        if self.start is None:  # the first step includes tracing; time from its end
            self.start, self.first_step = now, step
            return f"step {step}/{self.total_steps}"
        done = step - self.first_step
        eta = (self.total_steps - step) * (now - self.start) / done if done else math.nan
        eta_text = str(datetime.timedelta(seconds=round(eta))) if math.isfinite(eta) else "?"
        return f"step {step}/{self.total_steps} ({100 * step // self.total_steps}%), ETA {eta_text}"

    def update(self, step, loss):
        text = self.describe(step)
        if self.live:
            self.stream.write(f"\r{text}, loss {loss:.4f}   ")
            self.stream.flush()
            self.line_open = True
        return text

    def end_interval(self):
        if self.line_open:
            self.stream.write("\n")
            self.stream.flush()
            self.line_open = False


def _restore(checkpoint, manager) -> str | None:
    """Restores the newest intact checkpoint of ``manager``; returns its path, or None when there is none.

    Raises:
      ValueError: every checkpoint is corrupt (each is named).
    """
    for path in reversed(manager.checkpoints):
        try:
            checkpoint.restore(path).assert_existing_objects_matched()
            return path
        except (tf.errors.OpError, IndexError, ValueError, AssertionError) as error:
            logging.warning(
                "checkpoint %s is corrupt or incomplete (%s: %s); trying the previous one",
                path, type(error).__name__, str(error).splitlines()[0] if str(error) else "",
            )
    if manager.checkpoints:
        raise ValueError(
            f"no intact checkpoint in {manager.directory} (tried {', '.join(manager.checkpoints)}); "
            "delete the folder to train from the start"
        )
    return None


def _learning_rate(optimizer):
    rate = optimizer.learning_rate
    return float(rate.numpy() if hasattr(rate, "numpy") else rate)


def run_training(
    model,
    optimizer,
    dataset,
    strategy,
    workdir,
    total_steps,
    checkpoint_every,
    multi_label=False,
    weight_decay=optimizer_lib.WEIGHT_DECAY,
    jit_compile=False,
    checkpoint_input=False,
    validation_fn=None,
    on_restored=None,
    callbacks=(),
    verbose=1,
    gradient_clip_norm=None,
) -> dict:
    """Trains ``model`` until ``optimizer.iterations == total_steps``, resuming from ``workdir``.

    Args:
      model: a ``keras.Model`` built under ``strategy.scope()``, mapping the
        dataset's frames to logits ``[B, N]``.
      optimizer: its optimizer, made under the same scope.
      dataset: infinite ``tf.data.Dataset`` of ``(frames, labels)`` global
        batches; frames ``[B, K, S, S, C]`` or a dict of them.
      strategy: the ``tf.distribute.Strategy``.
      workdir: where checkpoints and logs go; a run restarted on the same
        workdir resumes.
      total_steps: iterations to reach.
      checkpoint_every: iterations per interval (checkpoint, logs, validation).
      multi_label: per-class sigmoid loss on multi-hot labels.
      weight_decay: λ of eq. 12.
      jit_compile: compile the step with XLA.
      checkpoint_input: also checkpoint the input iterator (exact resumption;
        the checkpoint then holds the pipeline's buffers, which can be large).
      validation_fn: ``None`` or ``f(model) -> dict`` with a ``"headline"``
        entry (larger is better), called after each interval.
      on_restored: ``None`` or ``f()``, called once the checkpoint (if any) is
        restored and before the first step (training writes the run's
        configuration there, so a failed restore leaves the workdir as it was).
      callbacks: ``keras.callbacks.Callback``s; ``on_train_batch_end(step,
        logs)`` and ``on_epoch_end(interval, logs)`` are called (an interval
        plays the role of an epoch).
      verbose: 1 shows the global step and ETA (live on a terminal) and logs
        each interval; 0 is silent.
      gradient_clip_norm: bound on the global gradient norm (see
        :func:`iastp_tf.training.optimizer.clip_by_global_norm_over_replicas`).

    Returns:
      The logs of the last interval (empty if nothing was left to train).

    Raises:
      FloatingPointError: a step's loss was NaN or infinite; nothing of that
        interval was saved.
    """
    if checkpoint_every <= 0 or total_steps <= 0:
        raise ValueError(f"total_steps and checkpoint_every must be positive, got {total_steps}, {checkpoint_every}")
    chief = strategy_lib.is_chief(strategy)
    own_dir = strategy_lib.worker_dir(workdir, strategy)
    os.makedirs(own_dir, exist_ok=True)
    with strategy.scope():
        optimizer.build(model.trainable_variables)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    iterator = iter(strategy.experimental_distribute_dataset(dataset.with_options(options)))
    # Keras seed generators (dropout) are not trackable objects: keep their
    # states explicitly so that a resumed run draws the same masks.
    random_states = [v for v in model.non_trainable_variables if "seed_generator" in v.path]
    tracked = {"model": model, "optimizer": optimizer, "random_states": random_states}
    if checkpoint_input:
        tracked["data"] = iterator
    checkpoint = tf.train.Checkpoint(**tracked)
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(own_dir, runs.CHECKPOINTS), max_to_keep=2)
    restored = _restore(checkpoint, manager)
    if restored and verbose:
        logging.info("resuming from %s at step %d", restored, int(optimizer.iterations.numpy()))
    if on_restored is not None:
        on_restored()
    train_step = make_train_step(model, optimizer, strategy, multi_label, weight_decay, jit_compile,
                                 gradient_clip_norm)
    callback_list = keras.callbacks.CallbackList(list(callbacks), model=model)
    writer = tf.summary.create_file_writer(os.path.join(own_dir, "tensorboard"))
    best_path = os.path.join(own_dir, "best_metric.txt")
    best = float(open(best_path).read()) if os.path.exists(best_path) else -np.inf

    logs = {}
    callback_list.on_train_begin()
    step = int(optimizer.iterations.numpy())
    last_good = restored
    progress = _Progress(step, total_steps)
    while step < total_steps:
        interval = step // checkpoint_every
        interval_end = min((interval + 1) * checkpoint_every, total_steps)
        callback_list.on_epoch_begin(interval)
        log = _IntervalLog()
        start = time.time()
        while step < interval_end:
            values = {name: float(value) for name, value in train_step(iterator).items()}  # one host read
            step_logs = {name: values[name] for name in ("loss", "cross_entropy")}
            if not math.isfinite(step_logs["loss"]):
                progress.end_interval()
                raise FloatingPointError(
                    f"the loss is {step_logs['loss']} at step {step + 1} (cross-entropy "
                    f"{step_logs['cross_entropy']}); last good checkpoint: "
                    f"{last_good or 'none (no checkpoint was written yet)'}. Lower the learning rate "
                    "(learning_rate_schedule.initial_learning_rate) and run again"
                )
            log.add(values)
            step += 1
            callback_list.on_train_batch_end(step - 1, step_logs)
            if verbose and chief:
                position = progress.update(step, step_logs["loss"])
        logs = {"step": step, **log.means(), "learning_rate": _learning_rate(optimizer)}
        logs["steps_per_second"] = log.steps / max(time.time() - start, 1e-9)
        for metric in model.metrics:  # the attention layer's loss trackers: each added loss
            logs[metric.name] = float(metric.result())
        if validation_fn is not None:
            logs.update({f"val_{name}": value for name, value in validation_fn(model).items()})
        for metric in model.metrics:  # after validation, whose calls update them too
            metric.reset_state()
        headline = logs["val_headline"] if validation_fn is not None else -logs["cross_entropy"]
        last_good = manager.save(checkpoint_number=step)
        runs.save_weights(model, os.path.join(own_dir, runs.LAST_WEIGHTS))
        if chief:
            if headline > best:
                best = headline
                runs.save_weights(model, os.path.join(own_dir, runs.BEST_WEIGHTS))
                with open(best_path, "w") as f:
                    f.write(repr(best))
            _append_csv(os.path.join(own_dir, "train_log.csv"), logs)
            _write_scalars(writer, logs, step)
            if verbose:
                progress.end_interval()
                shown = {name: value for name, value in logs.items() if name not in ("step", "steps_per_second")}
                logging.info("%s: %s", position, ", ".join(f"{name} {value:.4g}" for name, value in shown.items()))
        callback_list.on_epoch_end(interval, logs)
    callback_list.on_train_end(logs)
    return logs


# TensorBoard's scalar plugin reads these; written with core ops so that logging
# does not need the tensorboard package installed.
_SCALAR_METADATA = tf.compat.v1.SummaryMetadata(
    plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name="scalars")
)


def _write_scalars(writer, logs, step):
    with writer.as_default(step=step):
        for name, value in logs.items():
            tf.summary.write(name, tf.constant(value, tf.float32), metadata=_SCALAR_METADATA)
    writer.flush()


def _append_csv(path, logs):
    is_new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(logs))
        if is_new:
            writer.writeheader()
        writer.writerow(logs)
