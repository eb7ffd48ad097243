"""``adjit.models``: torchvision architectures with its parameter names; weights come from files.

No weights are downloaded: build a model with ``weights=None`` and load a state_dict you have,
e.g. one saved with ``torch.save(torchvision_model.state_dict(), path)`` (read when torch is
installed) or converted once to ``.npz`` with ``adjit.save``::

    model = adjit.models.resnet18()
    model.load_state_dict(adjit.load("resnet18.pth"))
"""

from adjit.models.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from adjit.models.vgg import VGG, vgg11, vgg13, vgg16, vgg16_bn, vgg19

__all__ = [
    "VGG",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "resnet18",
    "resnet34",
    "resnet50",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg16_bn",
    "vgg19",
]
