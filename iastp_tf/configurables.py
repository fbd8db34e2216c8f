"""Imports every module whose gin configurables the files under ``gin/`` name.

``import iastp_tf.configurables`` before parsing a gin file (the experiments
programs and the gin tests do). The one module allowed to import every layer
of the package: it sits above them all and nothing in the package imports it.
"""

import iastp_tf.data.cifar  # noqa: F401  make_cifar100_dataset
import iastp_tf.data.pipeline  # noqa: F401  make_dataset
import iastp_tf.evaluation.evaluate  # noqa: F401  evaluate
import iastp_tf.evaluation.export  # noqa: F401  export
import iastp_tf.evaluation.fusion  # noqa: F401  fuse
import iastp_tf.evaluation.predict  # noqa: F401  predict
import iastp_tf.models  # noqa: F401  build_stream_model
import iastp_tf.models.fusion  # noqa: F401  two-stream fusion models (SPEC §6)
import iastp_tf.training.optimizer  # noqa: F401  make_optimizer
import iastp_tf.training.schedules  # noqa: F401  learning_rate_schedule
import iastp_tf.training.strategy  # noqa: F401  make_strategy
import iastp_tf.training.train  # noqa: F401  train
