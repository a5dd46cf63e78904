"""One module per family; importing this package registers every network."""

from kerasnets.models import lenet  # noqa: F401
from kerasnets.models import alexnet  # noqa: F401
from kerasnets.models import vgg  # noqa: F401
from kerasnets.models import nin  # noqa: F401
from kerasnets.models import googlenet  # noqa: F401
from kerasnets.models import inception  # noqa: F401
from kerasnets.models import inception_v4  # noqa: F401
from kerasnets.models import xception  # noqa: F401
from kerasnets.models import resnet  # noqa: F401
from kerasnets.models import senet  # noqa: F401
from kerasnets.models import densenet  # noqa: F401
from kerasnets.models import mobilenet  # noqa: F401
from kerasnets.models import shufflenet  # noqa: F401
from kerasnets.models.convert import fully_convolutional  # noqa: F401
from kerasnets.models import features  # noqa: E402
from kerasnets.registry import build as build_classifier  # noqa: E402


def build(name, /, *, features_only=False, out_indices=None, **kwargs):
    """Builds the registered network `name` as a `keras.Model` (`kerasnets.build`).

    Keyword arguments go to the family builder: the keras.applications
    arguments (`include_top`, `weights`, `input_tensor`, `input_shape`,
    `pooling`, `classes`, `classifier_activation`, `name`) and the paper's
    hyper-parameters; a weights tag (`weights="tv_in1k"`) sets the structure
    its checkpoint needs. `features_only=True` returns the network as a
    backbone instead: its feature maps at each reduction (those `out_indices`
    picks), described by `model.feature_info` (see `kerasnets.models.features`).
    """
    if not isinstance(features_only, bool):
        raise ValueError(f"`features_only` must be True or False; got {features_only!r}")
    if features_only:
        return features.backbone(name, out_indices=out_indices, **kwargs)
    if out_indices is not None:
        raise ValueError("`out_indices` picks feature maps: it needs features_only=True")
    return build_classifier(name, **kwargs)
