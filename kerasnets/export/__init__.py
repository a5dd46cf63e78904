"""Exporting trained models: the `.keras` file (SavedModel and TFLite to follow)."""

from kerasnets.export.keras_file import save_keras

__all__ = ["save_keras"]
