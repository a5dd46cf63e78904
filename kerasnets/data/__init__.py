"""tf.data input pipelines: sources, the papers' augmentation and evaluation, the pipeline builder."""

from kerasnets.data import augment
from kerasnets.data.evaluate import (
    center_crop,
    evaluate,
    evaluate_center_crop,
    evaluate_dense,
    evaluate_multi_scale,
    evaluate_ten_crop,
    multi_scale,
    predict,
    predict_dense,
    ten_crop,
    top_k_accuracy,
)
from kerasnets.data.pipeline import decode, default_policy, eval_pipeline, train_pipeline
from kerasnets.data.preprocess import channel_means, preprocess
from kerasnets.data.sources import Splits, batched, digits, image_folder, tfds

__all__ = [
    "Splits",
    "augment",
    "batched",
    "center_crop",
    "channel_means",
    "decode",
    "default_policy",
    "digits",
    "eval_pipeline",
    "evaluate",
    "evaluate_center_crop",
    "evaluate_dense",
    "evaluate_multi_scale",
    "evaluate_ten_crop",
    "image_folder",
    "multi_scale",
    "predict",
    "predict_dense",
    "preprocess",
    "ten_crop",
    "tfds",
    "top_k_accuracy",
    "train_pipeline",
]
