"""Checks of the model builders' arguments, each message naming the gin setting (issue 12, row 14).

A bad gin value (``NUM_SCALES = 'a'``) must fail when the model is built with
one line that says which setting is wrong, what it must be and what it got,
e.g. ``num_scales must be an int in 0..4 (gin: NUM_SCALES /
build_stream_model.num_scales), got 'a'`` — not a ``TypeError`` deep inside
Keras. The macro is named where ``gin/base.gin`` binds the argument to one.
"""

import numbers
import os

from iastp_tf.backbones import BACKBONES

MAX_SCALES = 4  # Inception-ResNet-V2's four taps; other backbones offer three
# Builder arguments that gin/base.gin (and the fusion files) bind to a macro.
MACROS = {
    "backbone": "BACKBONE",
    "modality": "MODALITY",
    "num_classes": "NUM_CLASSES",
    "num_scales": "NUM_SCALES",
    "attention": "ATTENTION",
    "weights": "WEIGHTS",
}


def setting_error(builder: str, name: str, expected: str, value) -> ValueError:
    """``ValueError("<name> must be <expected> (gin: <MACRO> / <builder>.<name>), got <value>")``."""
    macro = MACROS.get(name)
    setting = f"{macro} / {builder}.{name}" if macro else f"{builder}.{name}"
    return ValueError(f"{name} must be {expected} (gin: {setting}), got {value!r}")


def is_int(value) -> bool:
    """An integer that is not a bool (``True`` is an ``int`` in Python)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(builder: str, name: str, value, low: int, high: int | None = None, where: str = "") -> None:
    """``value`` is an int in ``low..high`` (``high`` None: no upper bound)."""
    if is_int(value) and low <= value and (high is None or value <= high):
        return
    bounds = f">= {low}" if high is None else f"in {low}..{high}"
    raise setting_error(builder, name, f"an int {bounds}{where}", value)


def check_choice(builder: str, name: str, value, choices) -> None:
    """``value`` is one of ``choices``."""
    if isinstance(value, str) and value in choices:
        return
    raise setting_error(builder, name, f"one of {tuple(choices)}", value)


def check_bool(builder: str, name: str, value) -> None:
    """``value`` is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise setting_error(builder, name, "True or False", value)


def check_rate(builder: str, name: str, value, allow_none: bool) -> None:
    """``value`` is a dropout rate in [0, 1) (or ``None`` where allowed)."""
    if value is None and allow_none:
        return
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 <= value < 1:
        return
    raise setting_error(builder, name, "a number in [0, 1)" + (" or None" if allow_none else ""), value)


def check_weights(builder: str, value) -> None:
    """``weights`` is ``None``, ``"imagenet"`` or a path."""
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise setting_error(builder, "weights", "None, 'imagenet' or a path", value)


def check_input_size(builder: str, value) -> None:
    """``input_size`` is ``None`` (the backbone's own) or a positive int."""
    if value is not None:
        check_int(builder, "input_size", value, 1)


def check_kwargs(builder: str, name: str, value) -> None:
    """``value`` is ``None`` or a dict of keyword arguments."""
    if value is not None and not isinstance(value, dict):
        raise setting_error(builder, name, "None or a dict of keyword arguments", value)


def check_shared(builder: str, backbone, num_classes, num_scales, multi_label, dropout, weights, input_size,
                 backbone_kwargs, attention_kwargs, dropout_may_be_none: bool) -> None:
    """The arguments every model builder takes, checked before any backbone is built."""
    check_choice(builder, "backbone", backbone, BACKBONES)
    check_int(builder, "num_classes", num_classes, 1)
    check_int(builder, "num_scales", num_scales, 0, MAX_SCALES)
    check_bool(builder, "multi_label", multi_label)
    check_rate(builder, "dropout", dropout, allow_none=dropout_may_be_none)
    check_weights(builder, weights)
    check_input_size(builder, input_size)
    check_kwargs(builder, "backbone_kwargs", backbone_kwargs)
    check_kwargs(builder, "attention_kwargs", attention_kwargs)
