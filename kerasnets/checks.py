"""Argument checks for the whole package: one message style, at the bottom of the imports.

Every public function and layer of kerasnets checks its arguments with these,
so that a bad value raises a `ValueError` that names the argument, the
allowed values or range, and the value given::

    `classes` must be an integer in [1, inf); got 0

Models, layers, data, training, export and the recipes use them; this module
imports nothing from kerasnets.
"""

from __future__ import annotations

import math
import numbers

import keras

__all__ = ["DATA_FORMATS", "check_bool", "check_choice", "check_range",
           "standardize_data_format"]

DATA_FORMATS = ("channels_last", "channels_first")


def _named(argument, describe):
    return f"`{argument}` ({describe})" if describe else f"`{argument}`"


def check_choice(argument: str, value, allowed, *, numeric=False) -> None:
    """Raises ValueError unless `value` is one of `allowed`.

    With `numeric`, the value must also be a number and not a bool (so that
    True is not taken for 1).
    """
    ok = value in allowed
    if numeric and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        ok = False
    if not ok:
        raise ValueError(f"`{argument}` must be one of {tuple(allowed)}; got {value!r}")


def check_bool(argument: str, value) -> None:
    """Raises ValueError unless `value` is True or False (1 and 0 are refused too)."""
    if not isinstance(value, bool):
        raise ValueError(f"`{argument}` must be True or False; got {value!r}")


def check_range(argument: str, value, low=None, high=None, *, integer=False,
                low_inclusive=True, high_inclusive=True, describe=""):
    """Returns `value` when it is a number (an integer with `integer`: 2.0 is refused) in the range.

    Otherwise raises ValueError naming `argument` (with `describe`, a few words
    on what it is, in brackets) and its range: ``[1, inf)``, ``(0, 1]``, ...
    Bools and NaN are refused.
    """
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        ok = not math.isnan(value)
    if integer and ok:
        ok = isinstance(value, numbers.Integral)
    if ok and low is not None:
        ok = value >= low if low_inclusive else value > low
    if ok and high is not None:
        ok = value <= high if high_inclusive else value < high
    if not ok:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        opening = "[" if low_inclusive and low is not None else "("
        closing = "]" if high_inclusive and high is not None else ")"
        raise ValueError(f"{_named(argument, describe)} must be {kind} in "
                         f"{opening}{lo}, {hi}{closing}; got {value!r}")
    return value


def standardize_data_format(data_format):
    """`data_format`, with None meaning keras.config.image_data_format(); checked."""
    if data_format is None:
        data_format = keras.config.image_data_format()
    if data_format not in DATA_FORMATS:
        raise ValueError(
            "`data_format` must be one of (None, 'channels_last', 'channels_first'); "
            f"got {data_format!r}"
        )
    return data_format
