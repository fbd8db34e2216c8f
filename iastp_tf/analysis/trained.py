"""A trained stream model rebuilt from its training workdir (for Figs. 4, 6, 7).

A workdir (see :mod:`iastp_tf.runs`) keeps in ``run.json`` the model's Keras
config and the arguments of its builder and input, and its weights in
``last.weights.h5`` / ``best.weights.h5``. The analysis rebuilds the model
from that config, loads the weights, and takes the input settings (backbone
whose normalisation the frames get, modality, input size) from the same file,
so that test clips are prepared as in training. No gin is read.
"""

import dataclasses

import keras

import iastp_tf.models  # noqa: F401  registers the layers a saved model config names
from iastp_tf import runs


@dataclasses.dataclass(frozen=True)
class TrainedStream:
    """A stream model with trained weights and how its input is prepared.

    Attributes:
      model: frames ``[B, K, S, S, C]`` -> logits.
      backbone: the backbone name whose normalisation the input gets.
      modality: ``"rgb"``, ``"flow"`` or ``"flow_mc"``.
      input_size: S.
      num_scales: pyramid levels (0: no attention).
      attention: ``"pyramid"``, ``"conv1x1"`` or ``"none"``.
    """

    model: keras.Model
    backbone: str
    modality: str
    input_size: int
    num_scales: int
    attention: str

    @property
    def dataset_kwargs(self) -> dict:
        """``make_dataset`` arguments that prepare clips for this model."""
        return {"backbone": self.backbone, "modality": self.modality, "input_size": self.input_size}

    @property
    def label(self) -> str:
        """E.g. ``"3 scales"``, ``"1 scale"`` or ``"no attention"``."""
        if not self.num_scales or self.attention == "none":
            return "no attention"
        return f"{self.num_scales} scale{'s' if self.num_scales > 1 else ''}"


def load_trained_stream(workdir, checkpoint="last") -> TrainedStream:
    """Rebuilds the stream model of a training run from its ``run.json`` and loads its weights.

    Args:
      workdir: the training run's folder.
      checkpoint: ``"last"``, ``"best"`` or a weights file.

    Raises:
      ValueError: the workdir has no ``run.json`` or no such weights, or the
        run did not train a single stream.
    """
    run_info = runs.read_run_info(workdir)
    if run_info["model_fn"] != "build_stream_model":
        raise ValueError(f"workdir {workdir!r} trained {run_info['model_fn']}, not one stream (build_stream_model)")
    model = runs.rebuild_model(run_info)
    runs.load_weights(model, runs.weights_path(workdir, checkpoint))
    return TrainedStream(
        model=model,
        backbone=run_info["backbone"],
        modality=run_info["modality"],
        input_size=int(model.input_shape[2]),
        num_scales=int(run_info["num_scales"]),
        attention=run_info["attention"],
    )
