"""One module per backbone family; importing them fills the model registry."""

from pyhpe.models.backbones import repnext  # noqa: F401
from pyhpe.models.backbones import repvgg  # noqa: F401
from pyhpe.models.backbones import mobilenetv3  # noqa: F401
from pyhpe.models.backbones import repvit  # noqa: F401
from pyhpe.models.backbones import resnet  # noqa: F401
from pyhpe.models.backbones import efficientformerv2  # noqa: F401
from pyhpe.models.backbones import mobilevig  # noqa: F401
