"""Learning-rate presets of paper §5 (SPEC §5), counted in iterations.

* ``spatial`` (VGG16, BN-Inception, Inception-ResNet-V2 RGB): 0.001, ×0.1 every
  4000 iterations, stop at 12000.
* ``temporal`` (the same backbones, flow): 0.005, ×0.1 at 12000 and 24000,
  stop at 30000.
* ``resnet50`` (Kinetics-400, Charades): 0.01, ×0.1 at epochs 40 and 80,
  100 epochs; epochs become iterations through ``steps_per_epoch``, computed
  in one place (:func:`steps_per_epoch`).

The rate of update ``n`` (0-based, ``optimizer.iterations`` before the update)
is ``initial · factor^(number of boundaries ≤ n)``: at iteration 4000 the
spatial preset is already 1e-4. The schedule is Keras's
``PiecewiseConstantDecay``, whose value changes after ``step > boundary``:
its boundaries are the paper's minus one.
"""

import dataclasses

import gin
import keras


@dataclasses.dataclass(frozen=True)
class Preset:
    """A paper schedule: initial rate, decay boundaries and length, in ``unit``s."""

    initial_learning_rate: float
    boundaries: tuple[int, ...]
    total: int
    unit: str  # "iterations" or "epochs"


PRESETS = {
    "spatial": Preset(1e-3, (4000, 8000), 12000, "iterations"),
    "temporal": Preset(5e-3, (12000, 24000), 30000, "iterations"),
    "resnet50": Preset(1e-2, (40, 80), 100, "epochs"),
}


def steps_per_epoch(num_videos, global_batch_size) -> int:
    """Iterations in one pass over ``num_videos``: training input drops the last partial batch."""
    if num_videos <= 0 or global_batch_size <= 0:
        raise ValueError(f"num_videos and global_batch_size must be positive, got {num_videos}, {global_batch_size}")
    if num_videos < global_batch_size:
        raise ValueError(
            f"global_batch_size {global_batch_size} exceeds the {num_videos} videos (no full batch per epoch)"
        )
    return num_videos // global_batch_size


@gin.configurable
def learning_rate_schedule(
    preset="spatial",
    steps_per_epoch=None,
    initial_learning_rate=None,
    boundaries=None,
    total=None,
    unit=None,
    decay_factor=0.1,
) -> tuple[keras.optimizers.schedules.PiecewiseConstantDecay, int]:
    """A paper preset, optionally overridden, as ``(schedule, total_iterations)``.

    Args:
      preset: a key of :data:`PRESETS`.
      steps_per_epoch: iterations per epoch; required when the unit is epochs.
      initial_learning_rate, boundaries, total, unit: override the preset's.
      decay_factor: multiplier at each boundary (the paper's 1/10).
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {tuple(PRESETS)}, got {preset!r}")
    base = PRESETS[preset]
    chosen = Preset(
        initial_learning_rate=base.initial_learning_rate if initial_learning_rate is None else initial_learning_rate,
        boundaries=base.boundaries if boundaries is None else tuple(boundaries),
        total=base.total if total is None else total,
        unit=base.unit if unit is None else unit,
    )
    if chosen.unit not in ("iterations", "epochs"):
        raise ValueError(f"unit must be 'iterations' or 'epochs', got {chosen.unit!r}")
    scale = 1
    if chosen.unit == "epochs":
        if not steps_per_epoch:
            raise ValueError(f"steps_per_epoch is required for the epoch-based preset {preset!r}")
        scale = steps_per_epoch
    boundaries = [b * scale for b in chosen.boundaries]
    if boundaries != sorted(boundaries) or (boundaries and boundaries[0] < 1):
        raise ValueError(f"boundaries must be increasing and positive, got {list(chosen.boundaries)}")
    values = [chosen.initial_learning_rate * decay_factor**i for i in range(len(boundaries) + 1)]
    # Keras switches after step > boundary; the paper's rate switches at step == boundary.
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([b - 1 for b in boundaries], values)
    return schedule, chosen.total * scale
