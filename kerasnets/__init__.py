"""kerasnets: the classic image-classification CNNs for Keras 3, faithful to their papers.

`import kerasnets` alone fills the registry and registers every class this
package writes into a `.keras` file: the custom layers (`kerasnets.layers`
and the ones of the family modules, such as LeNet-5's partially connected C3
and ResNet's zero-padding shortcut) and the training losses and optimizers a
compiled model carries. So `keras.saving.load_model(path)` (with the default
`safe_mode=True`) loads any file this package wrote once kerasnets is imported.
"""

__version__ = "0.1.0"

from kerasnets.logs import native_logs_filtered  # noqa: E402
from kerasnets.registry import (  # noqa: E402
    get_spec,
    list_models,
    model_info,
    register_alias,
    register_model,
)

# TensorFlow's C++ start-up notices (oneDNN, CPU features) are dropped; anything
# else native code prints while Keras and TensorFlow load is replayed.
with native_logs_filtered():
    from kerasnets.profile import profile  # noqa: E402
    from kerasnets import layers  # noqa: E402,F401  (registers the custom layers)
    from kerasnets import models  # noqa: E402,F401  (registers every network and its layers)
    from kerasnets.models import build  # noqa: E402  (registry.build, plus features_only)
    from kerasnets import training  # noqa: E402,F401  (its losses and optimizers)
    from kerasnets.imagenet import decode_predictions, preprocess_input  # noqa: E402

__all__ = [
    "__version__",
    "build",
    "decode_predictions",
    "get_spec",
    "list_models",
    "model_info",
    "preprocess_input",
    "profile",
    "register_alias",
    "register_model",
]
