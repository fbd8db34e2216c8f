"""SavedModel export of one stream (SPEC §5, STYLE 9).

The SavedModel's ``serve`` endpoint (signature ``serving_default``) takes
normalised frames ``[batch, K, S, S, C]`` float32 with K free (any number of
segments at test time, paper Fig. 4) and returns the logits ``[batch, N]``;
two-stream models with dict inputs take a dict of such tensors. Next to
``saved_model.pb`` the export writes ``iastp_tf_export.json``: what a client
needs to prepare a video as its records were prepared (backbone for the
normalisation, modality, S, frames per snippet, test K, the records' frame
size, flow method and TV-L1 settings, JPEG quality) and the class names.
"""

import json
import os

import gin
import tensorflow as tf

from iastp_tf.data.dataset_info import read_dataset_info
from iastp_tf.runs import build_model, weights_path

EXPORT_METADATA = "iastp_tf_export.json"


def frame_specs(model):
    """Input signature of ``model`` with the batch and K axes free."""

    def spec(tensor, name):
        return tf.TensorSpec([None, None, *tensor.shape[2:]], tf.float32, name=name)

    if isinstance(model.input, dict):
        return {name: spec(tensor, name) for name, tensor in model.input.items()}
    return spec(model.input, "frames")


def export_saved_model(model, export_dir, metadata=None) -> str:
    """Writes ``model`` as a SavedModel to ``export_dir`` (plus its metadata JSON)."""
    model.export(export_dir, format="tf_saved_model", input_signature=[frame_specs(model)], verbose=False)
    with open(os.path.join(export_dir, EXPORT_METADATA), "w") as f:
        json.dump(metadata or {}, f, indent=2)
    return export_dir


def load_export_metadata(export_dir) -> dict:
    with open(os.path.join(export_dir, EXPORT_METADATA)) as f:
        return json.load(f)


@gin.configurable
def export(
    workdir=gin.REQUIRED,
    data_dir=gin.REQUIRED,
    model_fn=gin.REQUIRED,
    backbone=gin.REQUIRED,
    modality=gin.REQUIRED,
    checkpoint="best",
    export_dir=None,
    num_segments=25,
    new_length=None,
    dataset_info=None,
) -> str:
    """Exports a trained workdir's model to ``export_dir`` (default ``<workdir>/export``).

    Args:
      workdir: the training run's folder.
      data_dir: its records folder (class names, frame size, flow settings).
      dataset_info: stands in for ``dataset.json`` (CIFAR-100).
      model_fn: the gin-configured builder used for training.
      backbone: backbone name (selects the input normalisation).
      modality: ``"rgb"``, ``"flow"`` or ``"flow_mc"``.
      checkpoint: ``"best"``, ``"last"`` or a weights file.
      export_dir: output folder.
      num_segments: K a client should sample per video (paper: 25).
      new_length: frames per snippet; ``None`` for 1 (RGB) or 5 (flow).

    Returns:
      The export folder.
    """
    metadata = read_dataset_info(data_dir, dataset_info)
    model = build_model(model_fn, metadata)
    model.load_weights(weights_path(workdir, checkpoint))
    input_shape = (model.input if not isinstance(model.input, dict) else next(iter(model.input.values()))).shape
    export_dir = export_dir or os.path.join(workdir, "export")
    return export_saved_model(
        model,
        export_dir,
        {
            "backbone": backbone,
            "modality": modality,
            "input_size": int(input_shape[2]),
            "channels": int(input_shape[-1]),
            "new_length": new_length or (1 if modality == "rgb" else 5),
            "num_segments": num_segments,
            "multi_label": bool(metadata.get("multi_label", False)),
            "class_names": metadata["class_names"],
            "frame_size": metadata.get("frame_size"),
            "flow": metadata.get("flow", {}),
            "tvl1": metadata.get("tvl1", {}),
            "jpeg_quality": metadata.get("jpeg_quality"),
        },
    )
