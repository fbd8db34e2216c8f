"""What a training run leaves in its workdir (SPEC §4-5), read and written here only.

A workdir holds:

* ``operative_config.gin``: every gin value the run used, written once the
  checkpoint (if any) is restored;
* ``run.json``: what later programs need to rebuild and feed the model without
  gin (:func:`write_run_info`): the builder's arguments (backbone, modality,
  num_scales, attention, ...), the input's (input size, frames per snippet,
  the backbone whose normalisation the frames get), the class names and the
  model's own Keras config;
* ``checkpoints/`` (resumable state), ``last.weights.h5`` and
  ``best.weights.h5`` (weights only, written atomically), ``train_log.csv``
  and ``tensorboard/``.

This module sits below every package layer (next to ``iastp_tf.data``):
training writes a workdir, evaluation, export, prediction and analysis read it.
"""

import ast
import inspect
import json
import os

import gin
import keras

RUN_JSON = "run.json"
OPERATIVE_CONFIG = "operative_config.gin"
LAST_WEIGHTS = "last.weights.h5"
BEST_WEIGHTS = "best.weights.h5"
CHECKPOINTS = "checkpoints"
CHECKPOINT_CHOICES = ("last", "best")
_WEIGHTS_SUFFIX = ".weights.h5"
_INITIALISATION_ONLY = ("weights",)  # builder arguments that do not change the model a checkpoint holds


def weights_path(workdir, checkpoint="last") -> str:
    """The weights file of ``checkpoint`` in ``workdir``.

    Args:
      workdir: a training run's folder.
      checkpoint: ``"last"`` (the final weights, what the paper evaluates),
        ``"best"`` (the best interval; falls back to last when the run kept
        none) or the path of a ``.weights.h5`` file.

    Raises:
      ValueError: ``checkpoint`` is neither a choice nor an existing file, or
        the workdir has no such weights.
    """
    if checkpoint not in CHECKPOINT_CHOICES:
        if not os.path.exists(checkpoint):
            raise ValueError(f"checkpoint must be one of {CHECKPOINT_CHOICES} or a weights file, got {checkpoint!r}")
        return checkpoint
    best, last = os.path.join(workdir, BEST_WEIGHTS), os.path.join(workdir, LAST_WEIGHTS)
    path = best if checkpoint == "best" and os.path.exists(best) else last
    if not os.path.exists(path):
        raise ValueError(f"no {checkpoint} weights in workdir {workdir!r}: {path} is missing (train first)")
    return path


def save_weights(model, path) -> str:
    """Writes ``model``'s weights to ``path`` atomically (a temporary file, then a rename).

    A run killed while writing leaves the previous file intact, never a
    truncated one.
    """
    if not path.endswith(_WEIGHTS_SUFFIX):
        raise ValueError(f"weights path must end in {_WEIGHTS_SUFFIX!r}, got {path!r}")
    temporary = f"{path[: -len(_WEIGHTS_SUFFIX)]}.tmp-{os.getpid()}{_WEIGHTS_SUFFIX}"
    model.save_weights(temporary)
    os.replace(temporary, path)
    return path


def load_weights(model, path, skip_mismatch=False) -> None:
    """Loads a ``.weights.h5`` into ``model``; a missing or unreadable file raises ValueError naming it.

    Args:
      model: a built ``keras.Model``.
      path: the weights file.
      skip_mismatch: keep layers whose shapes differ (warm starts).

    Raises:
      ValueError: the file is missing, truncated, or not weights of this model.
    """
    if not os.path.exists(path):
        raise ValueError(f"weights file {path!r} does not exist")
    try:
        model.load_weights(path, skip_mismatch=skip_mismatch)
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(
            f"cannot load weights file {path!r} ({type(error).__name__}: {error}); it is truncated or "
            "belongs to another model: train again, or pass another checkpoint"
        ) from error


def write_text_atomically(path, text) -> str:
    """Writes ``text`` to ``path`` through a temporary file of this process, then renames it into place."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w") as f:
        f.write(text)
    os.replace(temporary, path)
    return path


def write_operative_config(workdir, config_str=None) -> str:
    """Writes ``config_str`` (default ``gin.operative_config_str()``) to ``workdir/operative_config.gin``."""
    os.makedirs(workdir, exist_ok=True)
    text = gin.operative_config_str() if config_str is None else config_str
    return write_text_atomically(os.path.join(workdir, OPERATIVE_CONFIG), text)


def parse_bindings(config_str) -> dict:
    """The bindings of an operative config text, macros resolved.

    Args:
      config_str: text as written by ``gin.operative_config_str()``.

    Returns:
      ``{"[scope/]configurable.parameter": value}``; values are Python
      literals where they parse as such, references (``@make_dataset``) stay
      strings, and a value that is a macro (``%NUM_CLASSES``) becomes the
      macro's value.
    """
    entries, key = {}, None
    for line in config_str.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace() and " = " in line:
            key, value = line.split(" = ", 1)
            key = key.strip()
            entries[key] = value.strip().removesuffix("\\")
        elif key is not None:  # gin wraps long values onto indented lines, after a backslash
            entries[key] += " " + line.strip().removesuffix("\\")

    def literal(text):
        try:
            return ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            return text.strip()

    values = {key: literal(text) for key, text in entries.items()}
    macros = {key: value for key, value in values.items() if "." not in key}
    for key, value in values.items():
        if isinstance(value, str) and value.startswith("%") and value[1:] in macros:
            values[key] = macros[value[1:]]
    return values


def configurable_bindings(bindings, name, scope=None) -> dict:
    """``{parameter: value}`` of configurable ``name`` as called in gin scope ``scope``.

    Args:
      bindings: from :func:`parse_bindings`.
      name: a configurable's name, e.g. ``"build_stream_model"``.
      scope: e.g. ``"train"``; its bindings override the unscoped ones.
    """
    chosen = {}
    prefixes = [f"{name}."] + ([f"{scope}/{name}."] if scope else [])
    for prefix in prefixes:
        for key, value in bindings.items():
            if key.startswith(prefix):
                chosen[key[len(prefix):]] = value
    return chosen


def check_same_model(workdir, config_str, model_fn_name) -> None:
    """Refuses to continue a workdir whose saved config builds another model.

    Args:
      workdir: a training run's folder (nothing is checked before its first run).
      config_str: the operative config of the run about to continue.
      model_fn_name: the model builder's configurable name.

    Raises:
      ValueError: the saved ``operative_config.gin`` binds the builder
        differently (its initial ``weights`` aside: a resumed run does not read
        them); the message names every differing binding.
    """
    path = os.path.join(workdir, OPERATIVE_CONFIG)
    if not os.path.exists(path):
        return
    with open(path) as f:
        saved = configurable_bindings(parse_bindings(f.read()), model_fn_name)
    current = configurable_bindings(parse_bindings(config_str), model_fn_name)
    differing = [
        f"{model_fn_name}.{name}: {saved.get(name, '<unset>')!r} in the workdir, {current.get(name, '<unset>')!r} now"
        for name in sorted((set(saved) | set(current)) - set(_INITIALISATION_ONLY))
        if saved.get(name) != current.get(name)
    ]
    if differing:
        raise ValueError(
            f"workdir {workdir!r} holds a run of another model ({'; '.join(differing)}); "
            "use a new --workdir, or the run's own configuration"
        )


def gin_name(fn) -> str:
    """The configurable name of a gin-configured function (its ``__name__``)."""
    return getattr(fn, "__name__", type(fn).__name__)


def build_model(model_fn, dataset_info) -> keras.Model:
    """``model_fn()``, with ``num_classes`` from ``dataset.json`` unless it is already set.

    ``num_classes`` is passed when ``model_fn`` takes it and gin binds it to
    nothing or ``None`` (``NUM_CLASSES = None`` in ``gin/base.gin``).

    Raises:
      ValueError: the model's class count, or a ``multi_label`` bound in gin,
        disagrees with ``dataset_info``.
    """
    bound = configurable_bindings(parse_bindings(gin.config_str()), gin_name(model_fn))
    check_multi_label(bound.get("multi_label"), dataset_info)
    takes_num_classes = "num_classes" in inspect.signature(model_fn).parameters
    if takes_num_classes and bound.get("num_classes") is None:
        model = model_fn(num_classes=dataset_info["num_classes"])
    else:
        model = model_fn()
    check_num_classes(model, dataset_info)
    return model


def check_num_classes(model, dataset_info) -> None:
    """ValueError when the model's logits do not match the dataset's classes."""
    outputs = model.output_shape[-1]
    if outputs != dataset_info["num_classes"]:
        raise ValueError(
            f"the model has {outputs} outputs but the dataset has {dataset_info['num_classes']} "
            "classes; set NUM_CLASSES (build_stream_model.num_classes) to match, or leave it unset"
        )


def check_multi_label(multi_label, dataset_info) -> None:
    """ValueError when a builder's ``multi_label`` disagrees with ``dataset.json``'s (None: not set)."""
    recorded = bool(dataset_info.get("multi_label", False))
    if multi_label is not None and bool(multi_label) != recorded:
        raise ValueError(
            f"the model is configured with multi_label={bool(multi_label)} but dataset.json says "
            f"multi_label={recorded}; remove the binding (training follows dataset.json)"
        )


def check_class_names(run_info, dataset_info, data_dir) -> None:
    """ValueError when ``data_dir``'s classes are not the training run's (same names, same order).

    Args:
      run_info: from :func:`read_run_info`.
      dataset_info: ``data_dir``'s ``dataset.json`` content.
      data_dir: named in the message.
    """
    trained, given = list(run_info["class_names"]), list(dataset_info["class_names"])
    if trained == given:
        return
    if len(trained) != len(given):
        detail = f"{len(trained)} classes in training, {len(given)} in {data_dir!r}"
    else:
        first = next(i for i, (a, b) in enumerate(zip(trained, given)) if a != b)
        detail = f"class {first} is {trained[first]!r} in training but {given[first]!r} in {data_dir!r}"
    raise ValueError(
        f"data_dir {data_dir!r} is not the dataset the run was trained on ({detail}); "
        "pass the records the run was trained on"
    )


def _frames_per_snippet(model, modality):
    """L from the model's channels: 3L for RGB snippets, 2L (x, y) for flow; None for several inputs."""
    if not isinstance(modality, str):
        return None
    channels = int(model.inputs[0].shape[-1])
    return channels // 3 if modality == "rgb" else channels // 2


def make_run_info(model, dataset_info, model_fn_name, model_kwargs, input_kwargs, data_dir) -> dict:
    """What :func:`write_run_info` stores: enough to rebuild and feed the model without gin.

    Args:
      model: the built ``keras.Model``.
      dataset_info: the training records' ``dataset.json`` content.
      model_fn_name: the builder's name, e.g. ``"build_stream_model"``.
      model_kwargs: the builder's arguments as called (backbone, modality,
        num_scales, attention, ...).
      input_kwargs: the input builder's arguments for training (backbone,
        modality, input_size, new_length, ...).
      data_dir: the training records.
    """
    modality = model_kwargs.get("modality", input_kwargs.get("modality"))
    return {
        "model_fn": model_fn_name,
        "model_kwargs": dict(model_kwargs),
        "input_kwargs": dict(input_kwargs),
        "backbone": model_kwargs.get("backbone"),
        "modality": list(modality) if isinstance(modality, (tuple, list)) else modality,
        "num_scales": model_kwargs.get("num_scales"),
        "attention": model_kwargs.get("attention"),
        "input_size": int(model.inputs[0].shape[2]),  # S of frames [B, K, S, S, C]
        "new_length": input_kwargs.get("new_length") or _frames_per_snippet(model, modality),
        "class_names": list(dataset_info["class_names"]),
        "num_classes": int(dataset_info["num_classes"]),
        "multi_label": bool(dataset_info.get("multi_label", False)),
        "data_dir": data_dir,
        "model_config": json.loads(model.to_json()),
    }


def write_run_info(workdir, run_info) -> str:
    """Writes ``run_info`` (see :func:`make_run_info`) to ``workdir/run.json`` atomically."""
    os.makedirs(workdir, exist_ok=True)
    return write_text_atomically(os.path.join(workdir, RUN_JSON), json.dumps(run_info, indent=2, default=repr) + "\n")


def read_run_info(workdir) -> dict:
    """The ``run.json`` of a training run.

    Raises:
      ValueError: the workdir has none (not a training run, or made before run.json existed).
    """
    path = os.path.join(workdir, RUN_JSON)
    if not os.path.exists(path):
        raise ValueError(f"workdir {workdir!r} has no {RUN_JSON} (not a training run? train first)")
    with open(path) as f:
        return json.load(f)


def rebuild_model(run_info) -> keras.Model:
    """The run's model, rebuilt from its saved Keras config (no weights loaded)."""
    return keras.models.model_from_json(json.dumps(run_info["model_config"]))
