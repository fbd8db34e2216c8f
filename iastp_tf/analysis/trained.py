"""A trained stream model rebuilt from its training workdir (for Figs. 4, 6, 7).

A workdir (see :mod:`iastp_tf.training.workdir`) keeps the run's gin values in
``operative_config.gin`` and its weights in ``best.weights.h5`` /
``last.weights.h5``. The analysis rebuilds the model with the gin-configured
``build_stream_model`` from those values, loads the weights, and reads the
dataset arguments (backbone, modality, input size) from the same
configuration so that test clips are prepared as in training.
"""

import dataclasses
import inspect
import os

import gin
import keras

# Configurables that an operative config names (``@make_dataset``, ``train``, ...) must be registered.
import iastp_tf.data.pipeline  # noqa: F401
import iastp_tf.training.train  # noqa: F401
from iastp_tf.models import build_stream_model
from iastp_tf.runs import weights_path


@dataclasses.dataclass(frozen=True)
class TrainedStream:
    """A stream model with trained weights and how its input is prepared.

    Attributes:
      model: frames ``[B, K, S, S, C]`` -> logits.
      backbone: backbone name.
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


def _stream_parameter(name):
    """``build_stream_model.<name>`` as gin binds it (macros resolved), else the function's default."""
    try:
        value = gin.query_parameter(f"build_stream_model.{name}")
    except ValueError:
        return inspect.signature(build_stream_model.__wrapped__).parameters[name].default
    if isinstance(value, gin.config.ConfigurableReference):  # a macro such as %NUM_SCALES
        value = value.scoped_configurable_fn()
    return value


def load_trained_stream(workdir, checkpoint="best", gin_files=(), gin_bindings=()) -> TrainedStream:
    """Rebuilds the stream model of a training run and loads its weights.

    The gin configuration is cleared and replaced by the run's
    ``operative_config.gin`` followed by ``gin_files`` and ``gin_bindings``.

    Args:
      workdir: the training run's folder.
      checkpoint: ``"best"``, ``"last"`` or a weights file.
      gin_files: more gin files parsed after the operative config.
      gin_bindings: more gin bindings, parsed last.
    """
    config = os.path.join(workdir, "operative_config.gin")
    if not os.path.exists(config):
        raise ValueError(f"workdir has no operative_config.gin (not a training run?): {workdir!r}")
    gin.clear_config()
    gin.parse_config_files_and_bindings([config, *gin_files], list(gin_bindings), skip_unknown=True)
    model = build_stream_model()
    model.load_weights(weights_path(workdir, checkpoint))
    return TrainedStream(
        model=model,
        backbone=_stream_parameter("backbone"),
        modality=_stream_parameter("modality"),
        input_size=int(model.input_shape[2]),
        num_scales=int(_stream_parameter("num_scales")),
        attention=_stream_parameter("attention"),
    )
