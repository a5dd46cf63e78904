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
