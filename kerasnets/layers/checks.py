"""Argument checks shared by the custom layers."""

from __future__ import annotations

import keras

DATA_FORMATS = ("channels_last", "channels_first")


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
