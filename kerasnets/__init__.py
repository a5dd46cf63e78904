"""kerasnets: the classic image-classification CNNs for Keras 3, faithful to their papers."""

__version__ = "0.1.0"

from kerasnets.registry import (  # noqa: E402
    build,
    get_spec,
    list_models,
    model_info,
    register_alias,
    register_model,
)
from kerasnets.profile import profile  # noqa: E402

__all__ = [
    "__version__",
    "build",
    "get_spec",
    "list_models",
    "model_info",
    "profile",
    "register_alias",
    "register_model",
]
