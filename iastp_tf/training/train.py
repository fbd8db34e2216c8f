"""The training entry point behind ``experiments/train.py`` (paper §5, SPEC §5).

One gin-configurable function whose defaults are the paper's: SGD with
momentum 0.9, global batch 64, weight decay λ = 4e-5 on kernels (eq. 12), the
learning-rate preset of :func:`iastp_tf.training.schedules.learning_rate_schedule`
(configured in gin), softmax cross-entropy or per-class sigmoid for multi-label
datasets (read from ``dataset.json``). The model and the input come from gin
(``train.model_fn = @build_stream_model``, ``train.dataset_fn = @make_dataset``);
any builder whose model takes what the dataset yields works, e.g. the
two-stream fusion models with a tuple modality. Datasets are built inside the
gin scope ``train`` (validation: ``eval``), so gin files can set, say,
``eval/make_dataset.num_segments = 25``.

``dataset.json`` is the one source of the class count and of multi-label:
the builder's ``num_classes`` defaults to the dataset's (when gin leaves it
unset or ``None``), and a ``num_classes`` or ``multi_label`` bound in gin
must agree with it. Once the checkpoint is restored the run writes
``operative_config.gin`` and ``run.json`` (:mod:`iastp_tf.runs`); a workdir
whose saved configuration builds another model is refused.
"""

import gin
import keras

from iastp_tf import runs
from iastp_tf.data.dataset_info import read_dataset_info
from iastp_tf.training import loop, schedules
from iastp_tf.training import optimizer as optimizer_lib
from iastp_tf.training import strategy as strategy_lib


@gin.configurable(denylist=["callbacks"])
def train(
    workdir=gin.REQUIRED,
    data_dir=gin.REQUIRED,
    model_fn=gin.REQUIRED,
    dataset_fn=gin.REQUIRED,
    validation_fn=None,
    # Paper §5: SGD (momentum in make_optimizer), batch 64 over all replicas, λ = 4e-5.
    batch_size=64,
    weight_decay=optimizer_lib.WEIGHT_DECAY,
    # Length: None runs the learning-rate preset's own length.
    total_steps=None,
    checkpoint_every=500,
    # Splits of the records folder.
    train_split="train",
    validation_split=None,
    # Hardware.
    strategy="default",
    mixed_precision=None,
    jit_compile=False,
    # Data without dataset.json (CIFAR-100), and warm starts (Charades from Kinetics).
    dataset_info=None,
    init_weights=None,
    # Reproducibility.
    checkpoint_input=False,
    seed=0,
    verbose=1,
    callbacks=(),
) -> dict:
    """Trains a model on a records folder and leaves checkpoints and logs in ``workdir``.

    Args:
      workdir: output folder; re-running on it resumes at the last checkpoint.
      data_dir: records folder with ``dataset.json`` (SPEC §4).
      model_fn: ``() -> keras.Model`` (gin-configured builder).
      dataset_fn: ``(data_dir, split, batch_size, training, seed, repeat) ->
        tf.data.Dataset`` (gin-configured ``make_dataset``).
      validation_fn: ``(model, data_dir, split, dataset_fn, batch_size) ->
        dict`` with a ``"headline"`` entry (larger is better), e.g.
        ``@validation_metrics``; needed with ``validation_split``.
      batch_size: global batch, split over the replicas.
      weight_decay: λ of eq. 12.
      total_steps: iterations; ``None`` for the schedule preset's length.
      checkpoint_every: iterations between checkpoints, logs and validation.
      train_split: split to train on.
      validation_split: split evaluated after each interval to keep
        ``best.weights.h5``; ``None`` keeps the lowest training
        classification loss instead.
      strategy: ``"default"``, ``"mirrored"`` or ``"multi_worker"`` (TF_CONFIG).
      mixed_precision: ``None``, ``"mixed_float16"`` or ``"mixed_bfloat16"``.
      jit_compile: XLA-compile the training step.
      dataset_info: stands in for ``dataset.json`` (see
        :func:`iastp_tf.data.dataset_info.read_dataset_info`).
      init_weights: a ``.weights.h5`` of another run to start from; layers
        whose shapes differ (the classifier) keep their initialisation.
      checkpoint_input: checkpoint the input iterator too, so that a resumed
        run reads the same batches as an uninterrupted one and ends with the
        same weights, bit for bit (tested across an epoch boundary).
      seed: seeds weights initialisation and input order.
      verbose: 1 shows the global step and ETA and logs each interval.
      callbacks: ``keras.callbacks.Callback``s (from Python only, not gin).

    Returns:
      The last interval's logs.

    Raises:
      ValueError: bad arguments, a dataset that does not fit the model, or a
        workdir holding a run of another model.
      FloatingPointError: the loss became NaN or infinite.
    """
    if validation_split is not None and validation_fn is None:
        raise ValueError("validation_split needs a validation_fn (train.validation_fn = @validation_metrics)")
    metadata = read_dataset_info(data_dir, dataset_info)
    multi_label = bool(metadata.get("multi_label", False))
    keras.utils.set_random_seed(seed)
    if mixed_precision is not None:
        keras.config.set_dtype_policy(mixed_precision)
    distribution = strategy_lib.make_strategy(strategy)
    if train_split not in metadata["splits"]:
        raise ValueError(f"train_split {train_split!r} is not among the dataset's splits {sorted(metadata['splits'])}")
    if metadata["splits"][train_split] < batch_size:
        raise ValueError(
            f"batch_size {batch_size} exceeds the {metadata['splits'][train_split]} videos of split "
            f"{train_split!r} (training batches drop the last partial batch)"
        )
    steps_per_epoch = schedules.steps_per_epoch(metadata["splits"][train_split], batch_size)
    schedule, preset_steps = schedules.learning_rate_schedule(steps_per_epoch=steps_per_epoch)
    with distribution.scope():
        model = runs.build_model(model_fn, metadata)
        if init_weights is not None:
            runs.load_weights(model, init_weights, skip_mismatch=True)
        optimizer = optimizer_lib.make_optimizer(schedule, mixed_precision=mixed_precision)
    with gin.config_scope("train"):
        # The input repeats itself (not `.repeat()` here): its shuffle then keeps
        # its per-epoch seeds in the iterator's checkpoint, so a resumed run
        # reshuffles the next epoch exactly as an uninterrupted one.
        dataset = dataset_fn(
            data_dir=data_dir, split=train_split, batch_size=batch_size, training=True, seed=seed, repeat=True
        )
    config = gin.operative_config_str()
    runs.check_same_model(workdir, config, runs.gin_name(model_fn))
    validate = None
    if validation_split is not None:

        def validate(trained_model):
            return validation_fn(trained_model, data_dir, validation_split, dataset_fn, batch_size)

    def write_run_files():
        if not strategy_lib.is_chief(distribution):
            return
        bindings = runs.parse_bindings(config)
        run_info = runs.make_run_info(
            model,
            metadata,
            model_fn_name=runs.gin_name(model_fn),
            model_kwargs=runs.configurable_bindings(bindings, runs.gin_name(model_fn)),
            input_kwargs=runs.configurable_bindings(bindings, runs.gin_name(dataset_fn), scope="train"),
            data_dir=data_dir,
        )
        runs.write_run_info(workdir, run_info)
        runs.write_operative_config(workdir, config)

    return loop.run_training(
        model=model,
        optimizer=optimizer,
        dataset=dataset,
        strategy=distribution,
        workdir=workdir,
        total_steps=total_steps or preset_steps,
        checkpoint_every=checkpoint_every,
        multi_label=multi_label,
        weight_decay=weight_decay,
        jit_compile=jit_compile,
        checkpoint_input=checkpoint_input,
        validation_fn=validate,
        on_restored=write_run_files,
        callbacks=callbacks,
        verbose=verbose,
    )

