"""The ``keras.applications`` backbone presets: one keyed entry per architecture.

Each entry names the ``keras.applications`` constructor, the block-rule
family, the default and smallest input size, the parameter count and ImageNet
top-1 accuracy (from the Keras applications docs) and the preprocessing its
ImageNet weights expect. :data:`backbone_presets` turns them into
:class:`~tl_widgets.core.models.backbone_spec.BackboneSpec` entries, which the
registry (:mod:`tl_widgets.core.models.backbones`) registers. Keras is
imported only when a backbone is built.
"""

from __future__ import annotations

from typing import Any, Callable

from tl_widgets.core.models.backbone_spec import BackboneSpec
from tl_widgets.core.models.blocks import BLOCK_RULES

__all__ = ["backbone_presets", "KERAS_APP_METADATA"]

# name: (keras.applications attribute, family, default size, min size, params, top-1, preprocess)
KERAS_APP_METADATA: dict[str, tuple[str, str, int, int, int, float | None, str]] = {
    "xception": ("Xception", "xception", 299, 71, 22_900_000, 79.0, "tf"),
    "vgg16": ("VGG16", "vgg", 224, 32, 138_400_000, 71.3, "caffe"),
    "vgg19": ("VGG19", "vgg", 224, 32, 143_700_000, 71.3, "caffe"),
    "resnet50": ("ResNet50", "resnet", 224, 32, 25_600_000, 74.9, "caffe"),
    "resnet101": ("ResNet101", "resnet", 224, 32, 44_700_000, 76.4, "caffe"),
    "resnet152": ("ResNet152", "resnet", 224, 32, 60_400_000, 76.6, "caffe"),
    "resnet50_v2": ("ResNet50V2", "resnet", 224, 32, 25_600_000, 76.0, "tf"),
    "resnet101_v2": ("ResNet101V2", "resnet", 224, 32, 44_700_000, 77.2, "tf"),
    "resnet152_v2": ("ResNet152V2", "resnet", 224, 32, 60_400_000, 78.0, "tf"),
    "inception_v3": ("InceptionV3", "inception_v3", 299, 75, 23_900_000, 77.9, "tf"),
    "inception_resnet_v2": ("InceptionResNetV2", "inception_resnet_v2", 299, 75, 55_900_000, 80.3, "tf"),
    "mobilenet": ("MobileNet", "mobilenet", 224, 32, 4_300_000, 70.4, "tf"),
    "mobilenet_v2": ("MobileNetV2", "mobilenet_v2", 224, 32, 3_500_000, 71.3, "tf"),
    "mobilenet_v3_small": ("MobileNetV3Small", "mobilenet_v3", 224, 32, 2_900_000, 68.1, "none"),
    "mobilenet_v3_large": ("MobileNetV3Large", "mobilenet_v3", 224, 32, 5_400_000, 75.6, "none"),
    "densenet121": ("DenseNet121", "densenet", 224, 32, 8_100_000, 75.0, "torch"),
    "densenet169": ("DenseNet169", "densenet", 224, 32, 14_300_000, 76.2, "torch"),
    "densenet201": ("DenseNet201", "densenet", 224, 32, 20_200_000, 77.3, "torch"),
    "nasnet_mobile": ("NASNetMobile", "nasnet", 224, 32, 5_300_000, 74.4, "tf"),
    "nasnet_large": ("NASNetLarge", "nasnet", 331, 32, 88_900_000, 82.5, "tf"),
    "efficientnet_b0": ("EfficientNetB0", "efficientnet", 224, 32, 5_300_000, 77.1, "none"),
    "efficientnet_b1": ("EfficientNetB1", "efficientnet", 240, 32, 7_900_000, 79.1, "none"),
    "efficientnet_b2": ("EfficientNetB2", "efficientnet", 260, 32, 9_200_000, 80.1, "none"),
    "efficientnet_b3": ("EfficientNetB3", "efficientnet", 300, 32, 12_300_000, 81.6, "none"),
    "efficientnet_b4": ("EfficientNetB4", "efficientnet", 380, 32, 19_500_000, 82.9, "none"),
    "efficientnet_b5": ("EfficientNetB5", "efficientnet", 456, 32, 30_600_000, 83.6, "none"),
    "efficientnet_b6": ("EfficientNetB6", "efficientnet", 528, 32, 43_300_000, 84.0, "none"),
    "efficientnet_b7": ("EfficientNetB7", "efficientnet", 600, 32, 66_700_000, 84.3, "none"),
    "efficientnet_v2_b0": ("EfficientNetV2B0", "efficientnet", 224, 32, 7_200_000, 78.7, "none"),
    "efficientnet_v2_b1": ("EfficientNetV2B1", "efficientnet", 240, 32, 8_200_000, 79.8, "none"),
    "efficientnet_v2_b2": ("EfficientNetV2B2", "efficientnet", 260, 32, 10_200_000, 80.5, "none"),
    "efficientnet_v2_b3": ("EfficientNetV2B3", "efficientnet", 300, 32, 14_500_000, 82.0, "none"),
    "efficientnet_v2_s": ("EfficientNetV2S", "efficientnet", 384, 32, 21_600_000, 83.9, "none"),
    "efficientnet_v2_m": ("EfficientNetV2M", "efficientnet", 480, 32, 54_400_000, 85.3, "none"),
    "efficientnet_v2_l": ("EfficientNetV2L", "efficientnet", 480, 32, 119_000_000, 85.7, "none"),
    "convnext_tiny": ("ConvNeXtTiny", "convnext", 224, 32, 28_600_000, 81.3, "none"),
    "convnext_small": ("ConvNeXtSmall", "convnext", 224, 32, 50_200_000, 82.3, "none"),
    "convnext_base": ("ConvNeXtBase", "convnext", 224, 32, 88_500_000, 85.3, "none"),
    "convnext_large": ("ConvNeXtLarge", "convnext", 224, 32, 197_700_000, 86.3, "none"),
    "convnext_xlarge": ("ConvNeXtXLarge", "convnext", 224, 32, 350_100_000, 86.7, "none"),
}


def _keras_builder(attr: str) -> Callable[..., Any]:
    def builder(input_shape: tuple[int, int, int], weights: Any = None, **kwargs: Any) -> Any:
        import keras

        fn = getattr(keras.applications, attr)
        return fn(include_top=False, weights=weights, input_shape=input_shape, **kwargs)

    builder.__name__ = f"build_{attr}"
    return builder


def _preset(name: str, attr: str, family: str, default: int, minimum: int, params: int, top1: float | None,
            preprocess: str) -> BackboneSpec:
    return BackboneSpec(
        name=name,
        family=family,
        builder=_keras_builder(attr),
        default_size=default,
        min_size=minimum,
        params=params,
        top1=top1,
        preprocess=preprocess,
        description=f"keras.applications.{attr}",
        block_rule=BLOCK_RULES[family],
    )


backbone_presets: dict[str, BackboneSpec] = {
    name: _preset(name, *metadata) for name, metadata in KERAS_APP_METADATA.items()
}
