"""tf.data input pipelines: sources, the papers' augmentation and evaluation, the pipeline builder.

Floors, each importing only those below it: `transforms` (pure image ops) ->
`augment`, `statistics` -> `preprocess`, `sources` -> `pipeline` -> `evaluate`.
"""

from kerasnets.data import augment
from kerasnets.data.evaluate import (
    evaluate,
    evaluate_center_crop,
    evaluate_dense,
    evaluate_ensemble,
    evaluate_multi_crop,
    evaluate_multi_crop_dense,
    evaluate_multi_scale,
    evaluate_ten_crop,
    outputs_logits,
    predict,
    predict_dense,
    predict_ensemble,
    predict_multi_crop,
    predict_multi_crop_dense,
    top_k_accuracy,
    whole_image_form,
)
from kerasnets.data.pipeline import default_policy, eval_pipeline, train_pipeline, weights_inputs
from kerasnets.data.preprocess import channel_means, preprocess
from kerasnets.data.sources import Splits, batched, digits, image_folder, tfds
from kerasnets.data.statistics import DatasetStatistics, dataset_statistics
from kerasnets.data.transforms import center_crop, decode, multi_crop, multi_scale, ten_crop

__all__ = [
    "DatasetStatistics",
    "dataset_statistics",
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
    "evaluate_ensemble",
    "evaluate_multi_crop",
    "evaluate_multi_crop_dense",
    "evaluate_multi_scale",
    "evaluate_ten_crop",
    "image_folder",
    "multi_crop",
    "multi_scale",
    "outputs_logits",
    "predict",
    "predict_dense",
    "predict_ensemble",
    "predict_multi_crop",
    "predict_multi_crop_dense",
    "preprocess",
    "ten_crop",
    "tfds",
    "top_k_accuracy",
    "train_pipeline",
    "weights_inputs",
    "whole_image_form",
]
