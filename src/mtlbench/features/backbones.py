"""Backbones that turn a dataset's images (or a time series) into fixed-size feature vectors.

Each backbone is a class with a ``Config`` dataclass (its params.yaml keys) and
``extract(images, config, device) -> (N, D) float32``; :data:`BACKBONES` is the
registry by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigError


class Backbone(ABC):
    name: ClassVar[str]
    Config: ClassVar[type]
    input: ClassVar[str] = "images"  # what the raw stage must hold: images | series
    # extraction wants a GPU (the features job claims one; resolved into the workflow's P)
    uses_gpu: ClassVar[bool] = False

    @staticmethod
    @abstractmethod
    def describe(config) -> dict:
        """Metadata block for the features table (backbone, weights, preprocessing)."""

    @staticmethod
    @abstractmethod
    def extract(images: np.ndarray, config, device: str, progress: bool = True) -> np.ndarray:
        """(N, 3, H, W) uint8 images -> (N, D) float32 features."""


@dataclass(frozen=True)
class PixelsConfig:
    mean: float = 0.5  # after scaling to [0, 1]; the default maps pixels to [-1, 1]
    std: float = 0.5

    def check(self, where: str) -> None:
        if self.std <= 0:
            raise ConfigError(f"{where}.std: must be > 0, got {self.std}")


class Pixels(Backbone):
    """Raw pixels: scaled to [0, 1], normalised by (x - mean) / std, flattened (C*H*W)."""

    name = "pixels"
    Config = PixelsConfig

    @staticmethod
    def describe(config: PixelsConfig) -> dict:
        return {"backbone": "pixels", "weights": None,
                "preprocessing": f"x/255, (x-{config.mean})/{config.std}, flatten CHW"}

    @staticmethod
    def extract(images: np.ndarray, config: PixelsConfig, device: str = "cpu", progress: bool = True) -> np.ndarray:
        x = images.reshape(len(images), -1).astype(np.float32) / 255.0
        return (x - np.float32(config.mean)) / np.float32(config.std)


@dataclass(frozen=True)
class VGG16Config:
    weights: str = "imagenet"  # 'imagenet' (torchvision IMAGENET1K_V1), 'random', or a path to a state dict
    seed: int = 0  # initialisation seed when weights == 'random'
    batch_size: int = 64
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    resize: int = 256  # square resize (not aspect-preserving), as the VMTL paper's features
    crop: int = 224

    def check(self, where: str) -> None:
        if self.weights not in ("imagenet", "random") and not self.weights.endswith((".pt", ".pth", ".bin")):
            raise ConfigError(f"{where}.weights: {self.weights!r}; allowed: 'imagenet', 'random', or a path to a .pt/.pth state dict")
        if self.batch_size < 1:
            raise ConfigError(f"{where}.batch_size: must be >= 1")
        if self.crop > self.resize:
            raise ConfigError(f"{where}.crop ({self.crop}) must not exceed resize ({self.resize})")
        if self.crop // 32 != 7:
            # no adaptive pooling: fc6 takes the 512x7x7 conv output of a 224..255 px input
            raise ConfigError(f"{where}.crop: {self.crop} gives a {self.crop // 32}x{self.crop // 32} conv output; "
                              "fc6 needs 7x7: use a crop in 224..255 (224 as published)")


@dataclass(frozen=True)
class ImageFilesConfig:
    """params.yaml ``features:``: how image-file datasets (real releases) are decoded and sharded."""

    workers: int = 8  # DataLoader decode workers per features job
    shard_size: int = 4096  # images per resumable shard (data/features/{d}/vgg16_fc7.shards/)
    skip_unreadable: bool = False  # true: leave unreadable images out, listed in the table metadata
    decode: Literal["cpu", "cuda"] = "cpu"  # cuda: JPEG decode on the GPU (only with a CUDA device)
    # true: CPU decoding of JPEGs at a reduced DCT scale (PIL draft): faster on large images,
    # pixels differ slightly from a full decode (docs/data.md); recorded in the metadata
    jpeg_draft: bool = False
    prefetch: int = 4  # batches each decode worker prepares ahead

    def check(self, where: str) -> None:
        if self.workers < 0 or self.shard_size < 1 or self.prefetch < 1:
            raise ConfigError(f"{where}: workers must be >= 0, shard_size and prefetch >= 1")
        if self.decode == "cuda" and self.jpeg_draft:
            raise ConfigError(f"{where}.jpeg_draft: true works with decode: cpu only (nvjpeg has no DCT downscale)")


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg16_fc7_model(weights: str = "imagenet", seed: int = 0):
    """torchvision VGG16 cut after fc7's ReLU: conv features, flatten, fc6, ReLU, fc7, ReLU.

    ``weights``: 'imagenet' loads ``VGG16_Weights.IMAGENET1K_V1`` (hash checked by
    torchvision), 'random' initialises with ``seed``, anything else is a local state-dict
    file.  Returned in eval mode, so dropout is off.
    """
    import torch
    from torchvision.models import VGG16_Weights, vgg16

    if weights == "random":
        torch.manual_seed(seed)
        model = vgg16(weights=None)
    elif weights == "imagenet":
        model = vgg16(weights=VGG16_Weights.IMAGENET1K_V1, progress=True)
    else:
        path = Path(weights)
        if not path.exists():
            raise ConfigError(f"backbones.vgg16_fc7.weights: file {path} does not exist")
        model = vgg16(weights=None)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))

    class VGG16FC7(torch.nn.Module):
        def __init__(self, vgg):
            super().__init__()
            self.features = vgg.features
            # classifier = [fc6, ReLU, Dropout, fc7, ReLU, Dropout, fc8]; keep up to fc7's ReLU
            self.fc = torch.nn.Sequential(*list(vgg.classifier.children())[:5])

        def forward(self, x):
            # no adaptive pooling: at 224x224 the conv output is already 512x7x7
            return self.fc(torch.flatten(self.features(x), 1))

    return VGG16FC7(model).eval()


def vgg16_preprocess(batch_uint8, resize: int, crop: int):
    """(B, 3, H, W) uint8 tensor -> resized (square), centre-cropped, ImageNet-normalised float."""
    import torch
    import torch.nn.functional as F

    x = batch_uint8.float().div_(255.0)
    if x.shape[-2:] != (resize, resize):
        x = F.interpolate(x, size=(resize, resize), mode="bilinear", antialias=True, align_corners=False)
    top = (resize - crop) // 2
    x = x[:, :, top : top + crop, top : top + crop]
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


class VGG16FC7(Backbone):
    """VGG16 fc7 (4096-d after ReLU), the VMTL paper's features."""

    name = "vgg16_fc7"
    Config = VGG16Config
    uses_gpu = True

    @staticmethod
    def describe(config: VGG16Config) -> dict:
        return {"backbone": "vgg16_fc7", "weights": config.weights, "precision": config.precision,
                "preprocessing": f"resize {config.resize}x{config.resize} bilinear, centre crop {config.crop}, "
                "ImageNet mean/std, conv features flattened, fc6-ReLU-fc7-ReLU, eval mode"}

    @staticmethod
    def extract(images: np.ndarray, config: VGG16Config, device: str = "cpu", progress: bool = True) -> np.ndarray:
        model = vgg16_fc7_model(config.weights, config.seed).to(device)
        return vgg16_fc7_features(model, images, config, device, progress)


def vgg16_fc7_features(model, images: np.ndarray, config: VGG16Config, device: str = "cpu",
                       progress: bool = True) -> np.ndarray:
    """Run a :func:`vgg16_fc7_model` over (N, 3, H, W) uint8 images in batches -> (N, 4096)."""
    import torch

    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[config.precision]
    out = np.empty((len(images), 4096), dtype=np.float32)
    with torch.inference_mode():
        for start in tqdm(range(0, len(images), config.batch_size), desc="vgg16_fc7", unit="batch", disable=not progress):
            batch = torch.from_numpy(images[start : start + config.batch_size]).to(device)
            x = vgg16_preprocess(batch, config.resize, config.crop)
            with torch.autocast(device_type=torch.device(device).type, dtype=dtype, enabled=dtype is not None):
                y = model(x)
            out[start : start + len(batch)] = y.float().cpu().numpy()
    return out


@dataclass(frozen=True)
class WindowConfig:
    """params.yaml ``backbones.window``: forecast windows over a time series (ETT).

    In hours, so hourly and 15-minute data (x4 steps) give the same forecast origins and
    targets in time; ``stride_hours`` subsamples the origins (1: every hour, the standard
    protocol), which divides the table's size by the stride.
    """

    lookback_hours: int = 96  # L: the inputs are the last L hours of every variable
    horizon_hours: int = 24  # H: the label is the task's value H hours after the last input
    stride_hours: int = 1  # hours between consecutive forecast origins

    def check(self, where: str) -> None:
        for key in ("lookback_hours", "horizon_hours", "stride_hours"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{where}.{key}: must be >= 1, got {getattr(self, key)}")


class Window(Backbone):
    """Standardised windows of a time series (:mod:`mtlbench.features.windows`); no network."""

    name = "window"
    Config = WindowConfig
    input = "series"

    @staticmethod
    def describe(config: WindowConfig) -> dict:
        return {"backbone": "window", "weights": None,
                "preprocessing": f"last {config.lookback_hours} h of every variable, standardised with the "
                f"training part's mean/std, flattened time-major; label: the task's standardised value "
                f"{config.horizon_hours} h later; an origin every {config.stride_hours} h"}

    @staticmethod
    def extract(images: np.ndarray, config: WindowConfig, device: str = "cpu", progress: bool = True) -> np.ndarray:
        raise ConfigError("backbone 'window' makes forecast windows of a time-series dataset (etth1, etth2, "
                          "ettm1, ettm2); image datasets need an image backbone ('pixels', 'vgg16_fc7')")


BACKBONES: dict[str, type[Backbone]] = {b.name: b for b in (Pixels, VGG16FC7, Window)}
