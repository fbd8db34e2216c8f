"""Sweep grids: axes of gin bindings, their cross product, and point names.

A grid is a list of axes. An axis binds one gin name (``NUM_SCALES``,
``learning_rate_schedule.preset``, ``train/make_dataset.num_segments``) to
each of its values in turn, or several names together (a *tied* axis: the
names are written ``"MODALITY, learning_rate_schedule.preset"`` and each value
is a tuple with one entry per name), for settings that only make sense
together, such as the flow stream and its learning-rate preset. The points
are the cross product of the axes, in the order given, the last axis varying
fastest. Values are gin values (``0``, ``'flow'``, ``1e-4``, ``%MACRO``,
``@configurable``): each binding is written back as gin text, so a point is
reproduced by its bindings alone.

A grid comes from ``--sweep="NAME=[v1, v2, ...]"`` flags, from the macro
``SWEEP_GRID`` of a gin file (``SWEEP_GRID = {'NUM_SCALES': [0, 1, 2]}``), or
both (a flag replaces the file's axis of the same names). The grid is a macro
rather than a configurable so that a sweep file stays an ordinary experiment
file: ``experiments/train.py`` accepts it as it is and trains its base point.
"""

import dataclasses
import hashlib
import itertools
import re

import gin

GRID_MACRO = "SWEEP_GRID"
_SAFE = re.compile(r"[^A-Za-z0-9._+-]")
_MAX_NAME = 120


@dataclasses.dataclass(frozen=True)
class Axis:
    """One axis: ``names`` bound together to each entry of ``values`` (tuples of gin texts)."""

    names: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]


@dataclasses.dataclass(frozen=True)
class Point:
    """One grid point: ``bindings`` ``((name, gin value text), ...)`` in axis order, and its folder name."""

    name: str
    bindings: tuple[tuple[str, str], ...]


def binding_lines(bindings) -> list[str]:
    """``((name, gin value text), ...)`` as gin statements, e.g. ``["NUM_SCALES = 2"]``."""
    return [f"{name} = {value}" for name, value in bindings]


def _value_text(value, where) -> str:
    """Gin text of a parsed value; ValueError when repr() does not parse back to it."""
    text = repr(value)
    try:
        same = gin.config.parse_value(text) == value
    except (SyntaxError, ValueError):
        same = False
    if not same:
        raise ValueError(f"{where}: value {value!r} cannot be written as a gin value")
    return text


def _split_names(key, where) -> tuple[str, ...]:
    names = tuple(name.strip() for name in str(key).split(","))
    for name in names:
        if not re.fullmatch(r"[A-Za-z_][\w./]*", name):
            raise ValueError(f"{where}: {name!r} is not a gin binding name (MACRO or [scope/]configurable.parameter)")
    return names


def make_axis(key, values, where="sweep") -> Axis:
    """An axis from a grid entry: ``key`` one name or ``"A, B"``; ``values`` a non-empty list.

    Raises:
      ValueError: ``values`` is not a list or is empty, a tied value does not
        have one entry per name, or a value has no gin text.
    """
    names = _split_names(key, where)
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"{where}: the values of {key!r} must be a list, got {values!r}")
    if not values:
        raise ValueError(f"{where}: the list of values of {key!r} is empty")
    texts = []
    for value in values:
        entries = (value,) if len(names) == 1 else value
        if len(names) > 1 and (not isinstance(value, (list, tuple)) or len(value) != len(names)):
            raise ValueError(
                f"{where}: each value of the tied axis {key!r} must have {len(names)} entries, got {value!r}"
            )
        texts.append(tuple(_value_text(entry, f"{where} {key!r}") for entry in entries))
    return Axis(names, tuple(texts))


def _first_line(error) -> str:
    lines = str(error).splitlines()
    return lines[0] if lines else ""


def parse_sweep_flag(flag) -> Axis:
    """``"NAME=[v1, v2]"`` (or ``"A, B=[(a1, b1), (a2, b2)]"``) -> :class:`Axis`; values in gin syntax."""
    key, sep, values_text = flag.partition("=")
    where = f"--sweep={flag!r}"
    if not sep or not key.strip():
        raise ValueError(f"{where}: expected NAME=[v1, v2, ...]")
    try:
        values = gin.config.parse_value(values_text.strip())
    except Exception as error:  # gin raises SyntaxError, tokenize.TokenError, ValueError
        message = f"{type(error).__name__}: {_first_line(error)}"
        raise ValueError(f"{where}: gin cannot parse the values ({message})") from None
    return make_axis(key, values, where)


def grid_axes(file_grid, flags) -> list[Axis]:
    """The axes of a file's ``SWEEP_GRID`` dict (or None) followed by the ``--sweep`` flags.

    A flag axis with the same names as a file axis replaces it in place.
    """
    if file_grid is not None and not isinstance(file_grid, dict):
        raise ValueError(f"{GRID_MACRO} must be a dict of name -> list of values, got {file_grid!r}")
    axes = [make_axis(key, values, GRID_MACRO) for key, values in (file_grid or {}).items()]
    for flag in flags:
        axis = parse_sweep_flag(flag)
        position = next((i for i, old in enumerate(axes) if old.names == axis.names), None)
        if position is None:
            axes.append(axis)
        else:
            axes[position] = axis
    names = [name for axis in axes for name in axis.names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"sweep: {repeated} appear on more than one axis")
    if not axes:
        raise ValueError(f"sweep: empty grid (give --sweep=NAME=[...] or {GRID_MACRO} in a gin file)")
    return axes


def _labels(names) -> dict:
    """Short label of each name (the parameter, ``num_segments``) unless two names share it."""
    short = {name: name.rsplit(".", 1)[-1] for name in names}
    counts = {label: list(short.values()).count(label) for label in short.values()}
    return {name: label if counts[label] == 1 else name.replace("/", "-") for name, label in short.items()}


def point_name(bindings, labels) -> str:
    """Folder name saying the bindings: ``NUM_SCALES=2,preset=temporal``.

    Stable (a function of the bindings only) and filesystem-safe: characters
    outside ``[A-Za-z0-9._+-]`` become ``_``, and when that loses
    information, or the name is long, a hash of the exact bindings is appended.
    """
    readable = []
    for name, text in bindings:
        value = gin.config.parse_value(text)
        value = value if isinstance(value, str) else text
        readable.append((labels[name], value))
    raw = ",".join(f"{label}={value}" for label, value in readable)
    safe = ",".join(f"{_SAFE.sub('_', label)}={_SAFE.sub('_', value)}" for label, value in readable)
    if safe != raw or len(safe) > _MAX_NAME:
        digest = hashlib.sha1("\n".join(f"{n} = {t}" for n, t in bindings).encode()).hexdigest()[:8]
        safe = f"{safe[:_MAX_NAME]}-{digest}"
    return safe


def grid_points(axes) -> list[Point]:
    """The cross product of ``axes``, the last axis varying fastest."""
    labels = _labels([name for axis in axes for name in axis.names])
    points = []
    for choice in itertools.product(*(axis.values for axis in axes)):
        bindings = tuple((name, text) for axis, texts in zip(axes, choice) for name, text in zip(axis.names, texts))
        points.append(Point(point_name(bindings, labels), bindings))
    names = [point.name for point in points]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"sweep: points {repeated} occur more than once (a value repeated on an axis?)")
    return points


def parse_shard(shard) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard or "")
    if not match or not int(match[1]) < int(match[2]):
        raise ValueError(f"shard must be 'i/n' with 0 <= i < n, got {shard!r}")
    return int(match[1]), int(match[2])
