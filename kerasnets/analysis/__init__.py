"""The experiments that explain residual networks, on any residual network of the package.

Veit, Wilber and Belongie (2016), "Residual Networks Behave Like Ensembles of
Relatively Shallow Networks", NeurIPS: the blocks of a network
(`residual_blocks`, `plain_blocks`), networks with blocks deleted or
reordered that share the original's weights (`delete_blocks`,
`reorder_blocks`, `kendall_tau`), the unravelled view's path lengths and
the gradient through paths of each length (`path_length_distribution`,
`effective_paths`), and lesion studies at test time (`lesion_study`, with
`recompute_batch_norm_statistics` for networks trained briefly), and He et
al.'s degradation figure (`Curve`, `plot_degradation`). `plot_paths` and
`plot_lesion_tables` draw Veit et al.'s Figures 5 and 6;
recipes/resnet_paths.py runs all four experiments.
"""

from kerasnets.analysis.blocks import (
    Block,
    delete_blocks,
    kendall_tau,
    kendall_tau_distance,
    plain_blocks,
    reorder_blocks,
    residual_blocks,
)
from kerasnets.analysis.degradation import Curve, plot_degradation
from kerasnets.analysis.lesion import (
    LesionTable,
    lesion_study,
    plot_lesion_tables,
    recompute_batch_norm_statistics,
)
from kerasnets.analysis.paths import (
    EffectivePaths,
    PathLengths,
    effective_paths,
    path_length_distribution,
    paths_rows,
    plot_paths,
)

__all__ = [
    "Block",
    "Curve",
    "EffectivePaths",
    "LesionTable",
    "PathLengths",
    "delete_blocks",
    "effective_paths",
    "kendall_tau",
    "kendall_tau_distance",
    "lesion_study",
    "path_length_distribution",
    "plain_blocks",
    "paths_rows",
    "plot_degradation",
    "plot_paths",
    "plot_lesion_tables",
    "recompute_batch_norm_statistics",
    "reorder_blocks",
    "residual_blocks",
]
