"""SavedModel export of one stream (SPEC §5, STYLE 9).

The SavedModel's ``serve`` endpoint (signature ``serving_default``) takes
frames ``[batch, K, S, S, C]`` float32 with values 0..255, as the input
pipeline gives them (the model normalises them for its backbone itself), with
K free (any number of segments at test time, paper Fig. 4) and returns the
logits ``[batch, N]``; two-stream models with dict inputs take a dict of such
tensors. Next to ``saved_model.pb`` the export writes
``iastp_tf_export.json``: the class names, the input's value range, how
evaluation reads a video (backbone, modality, S, frames per snippet, test K
of TSN segments, crops) and, under
``"preparation"``, how the dataset's videos became records (frame geometry:
``resize`` or ``short_side``; JPEG quality; flow method, bound, compensation
and TV-L1 settings), so that ``predict`` prepares a new video exactly so.

An export is written to a temporary folder beside ``export_dir`` and renamed
into place when complete; an existing non-empty ``export_dir`` is replaced
only with ``overwrite=True``.
"""

import json
import os
import shutil
import tempfile

import gin
import tensorflow as tf

from iastp_tf.data import features
from iastp_tf.data.dataset_info import read_dataset_info
from iastp_tf.data.pipeline import DEFAULT_NEW_LENGTH
from iastp_tf.data.prepare.records import DEFAULT_JPEG_QUALITY
from iastp_tf.runs import build_model, check_class_names, load_weights, read_run_info, weights_path

EXPORT_METADATA = "iastp_tf_export.json"


def frame_specs(model):
    """Input signature of ``model`` with the batch and K axes free."""

    def spec(tensor, name):
        return tf.TensorSpec([None, None, *tensor.shape[2:]], tf.float32, name=name)

    if isinstance(model.input, dict):
        return {name: spec(tensor, name) for name, tensor in model.input.items()}
    return spec(model.input, "frames")


def export_saved_model(model, export_dir, metadata=None, overwrite=False) -> str:
    """Writes ``model`` as a SavedModel to ``export_dir`` (plus its metadata JSON), atomically.

    Args:
      model: a built ``keras.Model``.
      export_dir: the export folder; it appears only when complete.
      metadata: written to ``iastp_tf_export.json``.
      overwrite: replace an existing non-empty ``export_dir``.

    Raises:
      ValueError: ``export_dir`` exists and is not an empty folder, and ``overwrite`` is False.
    """
    export_dir = os.path.abspath(export_dir)
    if os.path.exists(export_dir) and not overwrite:
        if not os.path.isdir(export_dir) or os.listdir(export_dir):
            raise ValueError(
                f"export_dir {export_dir} already exists and is not empty; choose another, or pass "
                "--overwrite (export.overwrite = True) to replace it"
            )
    parent = os.path.dirname(export_dir)
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=f".{os.path.basename(export_dir)}.tmp-", dir=parent)
    try:
        model.export(temporary, format="tf_saved_model", input_signature=[frame_specs(model)], verbose=False)
        with open(os.path.join(temporary, EXPORT_METADATA), "w") as f:
            json.dump(metadata or {}, f, indent=2)
        if os.path.exists(export_dir):
            replaced = f"{temporary}-replaced"
            os.rename(export_dir, replaced)
            os.rename(temporary, export_dir)
            if os.path.isdir(replaced):
                shutil.rmtree(replaced)
            else:
                os.remove(replaced)
        else:
            os.rename(temporary, export_dir)
    finally:
        if os.path.exists(temporary):
            shutil.rmtree(temporary)
    return export_dir


def preparation(dataset_info) -> dict:
    """How the records of ``dataset.json`` were prepared, for ``predict`` to prepare a video the same way.

    Returns:
      ``{"resize": [w, h] or None, "short_side": int or None, "frame_size":
      [h, w] or None, "jpeg_quality": int, "flow": {"method", "bound",
      "compensated"}, "tvl1": {"scales", "warps"} or None}``. A
      ``dataset.json`` older than the ``resize``/``short_side`` entries gives
      its one ``frame_size`` as ``resize``.
    """
    flow = dataset_info.get("flow") or {}
    resize, short_side = dataset_info.get("resize"), dataset_info.get("short_side")
    frame_size = dataset_info.get("frame_size")
    if "resize" not in dataset_info and "short_side" not in dataset_info and frame_size:
        resize = [frame_size[1], frame_size[0]]
    return {
        "resize": list(resize) if resize else None,
        "short_side": short_side,
        "frame_size": frame_size,
        "jpeg_quality": dataset_info.get("jpeg_quality") or DEFAULT_JPEG_QUALITY,
        "flow": {
            "method": flow.get("method", "none"),
            "bound": flow.get("bound", features.FLOW_BOUND),
            "compensated": bool(flow.get("compensated", False)),
        },
        "tvl1": dataset_info.get("tvl1"),
    }


# The frames the exported model takes: 0..255, normalised inside the model. Exports
# written before the model normalised its input took normalised frames and lack this key.
INPUT_RANGE = (0, 255)


def load_export_metadata(export_dir) -> dict:
    """The ``iastp_tf_export.json`` of an export folder.

    Raises:
      ValueError: the folder holds no export metadata.
    """
    path = os.path.join(export_dir, EXPORT_METADATA)
    if not os.path.isfile(path):
        raise ValueError(f"{export_dir} is not an export of this project (no {EXPORT_METADATA}); run experiments/export.py")
    with open(path) as f:
        return json.load(f)


@gin.configurable
def export(
    workdir=gin.REQUIRED,
    data_dir=gin.REQUIRED,
    model_fn=gin.REQUIRED,
    backbone=gin.REQUIRED,
    modality=gin.REQUIRED,
    checkpoint="last",
    export_dir=None,
    overwrite=False,
    num_segments=25,
    new_length=None,
    test_crops=1,
    dataset_info=None,
) -> str:
    """Exports a trained workdir's model to ``export_dir`` (default ``<workdir>/export``).

    Args:
      workdir: the training run's folder.
      data_dir: its records folder (class names, preparation); its class
        names must be the run's (``run.json``).
      dataset_info: stands in for ``dataset.json`` (CIFAR-100).
      model_fn: the gin-configured builder used for training.
      backbone: backbone name (picks the default input size).
      modality: ``"rgb"``, ``"flow"`` or ``"flow_mc"``, or a tuple of them (two-stream models).
      checkpoint: ``"last"`` (what evaluate reads by default), ``"best"`` or a weights file.
      export_dir: output folder.
      overwrite: replace an existing non-empty ``export_dir``.
      num_segments: K a client should sample per video (paper: 25).
      new_length: frames per snippet; ``None`` for 1 (RGB) or 5 (flow), per modality for a tuple.
      test_crops: 1 (centre) or 10 views per video at serving time.

    Returns:
      The export folder.

    Raises:
      ValueError: ``data_dir`` is not the run's dataset, the model does not
        match it, the weights are missing, or ``export_dir`` is taken.
    """
    info = read_dataset_info(data_dir, dataset_info)
    check_class_names(read_run_info(workdir), info, data_dir)
    model = build_model(model_fn, info)
    load_weights(model, weights_path(workdir, checkpoint))
    inputs = model.input if isinstance(model.input, dict) else {modality: model.input}
    several = not isinstance(modality, str)
    return export_saved_model(
        model,
        export_dir or os.path.join(workdir, "export"),
        {
            "backbone": backbone,
            "input_range": list(INPUT_RANGE),
            "modality": modality if isinstance(modality, str) else list(modality),
            "input_size": int(next(iter(inputs.values())).shape[2]),
            "channels": {name: int(tensor.shape[-1]) for name, tensor in inputs.items()} if several
            else int(inputs[modality].shape[-1]),
            "new_length": new_length if several else new_length or DEFAULT_NEW_LENGTH[modality],
            "num_segments": num_segments,
            "test_crops": test_crops,
            "multi_label": bool(info.get("multi_label", False)),
            "class_names": info["class_names"],
            "preparation": preparation(info),
        },
        overwrite=overwrite,
    )
