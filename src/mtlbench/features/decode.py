"""Image bytes -> the VGG16 input crop: decode, square resize, centre crop, as uint8.

One image at a time on the CPU (DataLoader workers), or a batch on the GPU:

- :func:`decode_rgb_tensor`: JPEGs with ``torchvision.io.decode_jpeg`` (libjpeg-turbo; on
  the 2,533 Office-Caltech10 JPEGs its pixels equal PIL's exactly, at ~1.6x PIL's speed),
  every other format, and a JPEG that decoder refuses, with PIL
  (:func:`mtlbench.data.image_folder.decode_rgb`: grey, CMYK, palette and alpha become RGB).
  ``draft=True`` decodes JPEGs with both sides >= twice the resize size with PIL's
  ``Image.draft``: libjpeg scales the DCT by 1/2, 1/4 or 1/8 while decoding, keeping both
  sides >= the resize size, so large JPEGs decode (and resize) faster; their pixels after
  the resize then differ a little from a full decode (see docs/data.md), so it is an
  explicit option recorded in the features metadata.  Smaller JPEGs decode as without it.
- :func:`resize_crop_uint8`: ``resize x resize`` bilinear with antialiasing (not
  aspect-preserving), centre ``crop``, uint8 in and out.  On the CPU torchvision's native
  uint8 kernel (AVX2) does it; elsewhere it runs in float and rounds.  The two agree within
  one grey level.
- :func:`resize_crop_batch`: the same for a list of images of different sizes on one
  device, one resize call per distinct size (the GPU path).
- :func:`decode_bytes_batch`: raw file bytes -> a batch, with ``decode_jpeg`` on a list
  (nvjpeg on CUDA).

Normalisation (/255, ImageNet mean/std) is not done here: workers return uint8 (a quarter
of float32's bytes through shared memory) and the batch is normalised on the device.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

import numpy as np


def decode_jpeg_rgb(data, **kw):
    """``torchvision.io.decode_jpeg(data, mode=RGB, **kw)``: a uint8 bytes tensor or a list of them."""
    from torchvision.io import ImageReadMode, decode_jpeg

    with warnings.catch_warnings():
        # torchvision 0.29 announces a move of its decoders to TorchCodec; they still work
        warnings.simplefilter("ignore", DeprecationWarning)
        return decode_jpeg(data, mode=ImageReadMode.RGB, **kw)


def is_jpeg(data) -> bool:
    """JPEG by its magic bytes (FF D8), not by the file name."""
    return len(data) > 2 and data[0] == 0xFF and data[1] == 0xD8


def decode_error(e: BaseException) -> str:
    """A decoder failure as 'ErrorType: message' (the decoder's own error, not its wrapper)."""
    cause = e.__cause__ if e.__cause__ is not None else e
    return f"{type(cause).__name__}: {cause}"


def _bytes_tensor(data):
    import torch

    if isinstance(data, torch.Tensor):
        return data
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


# SOF markers (frame headers with the image size): C0-CF but DHT (C4), JPG (C8), DAC (CC)
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_size(data) -> tuple[int, int] | None:
    """(height, width) from a JPEG's frame header, reading no pixel data; None if not found."""
    i, n = 2, len(data)
    while i + 9 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
        elif marker in _SOF:
            return (data[i + 5] << 8) | data[i + 6], (data[i + 7] << 8) | data[i + 8]
        else:
            i += 2 + ((data[i + 2] << 8) | data[i + 3])
    return None


def decode_rgb_tensor(data: bytes, where: str = "image", draft: int | None = None):
    """Image file bytes -> (3, H, W) uint8 RGB tensor (possibly a channels-last view).

    ``draft``: a size S; JPEGs with both sides >= 2 S are then decoded by PIL at the
    smallest DCT scale that keeps both sides >= S (1/2, 1/4 or 1/8); smaller ones are
    decoded in full as without ``draft`` (the same pixels as PIL's draft at scale 1).
    Unreadable bytes raise :class:`~mtlbench.errors.DataError` naming ``where``.
    """
    import torch

    from ..data.image_folder import decode_rgb

    if draft is not None and is_jpeg(data):
        size = jpeg_size(data)
        if size is None or min(size) >= 2 * draft:
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(io.BytesIO(bytes(data))) as im:
                    im.draft("RGB", (draft, draft))
                    arr = np.array(im.convert("RGB"))  # writable: torch.from_numpy wants it
                return torch.from_numpy(arr).permute(2, 0, 1)
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
                pass  # decode_rgb below reports it by name
            return torch.from_numpy(decode_rgb(bytes(data), where))
    if is_jpeg(data):
        try:
            return decode_jpeg_rgb(_bytes_tensor(data))
        except RuntimeError:
            pass  # libjpeg-turbo refuses it: PIL decides (and names the error)
    return torch.from_numpy(decode_rgb(bytes(data), where))


def resize_crop_uint8(img, resize: int, crop: int):
    """(3, H, W) or (B, 3, H, W) uint8 -> (..., 3, crop, crop) uint8, contiguous.

    Square resize to ``resize x resize`` (bilinear, antialias; not aspect-preserving), then
    the centre ``crop``.
    """
    from torchvision.transforms.v2.functional import resize as tv_resize

    x = tv_resize(img, [resize, resize], antialias=True)
    top = (resize - crop) // 2
    return x[..., top: top + crop, top: top + crop].contiguous()


def decode_resize_crop(data: bytes, resize: int, crop: int, draft: bool = False, where: str = "image"):
    """File bytes -> (3, crop, crop) uint8: what a DataLoader worker returns per image."""
    return resize_crop_uint8(decode_rgb_tensor(data, where, draft=resize if draft else None), resize, crop)


def resize_crop_batch(images: Sequence, resize: int, crop: int):
    """(3, H_k, W_k) uint8 images on one device -> (B, 3, crop, crop) uint8.

    Images of the same size are stacked and resized in one call, written into a
    preallocated batch (no per-image resize launches when sizes repeat).
    """
    import torch

    if not images:
        raise ValueError("resize_crop_batch: no images")
    out = torch.empty((len(images), 3, crop, crop), dtype=torch.uint8, device=images[0].device)
    groups: dict[tuple[int, int], list[int]] = {}
    for k, img in enumerate(images):
        groups.setdefault((int(img.shape[-2]), int(img.shape[-1])), []).append(k)
    for ks in groups.values():
        x = torch.stack([images[k] for k in ks]) if len(ks) > 1 else images[ks[0]][None]
        y = resize_crop_uint8(x, resize, crop)
        if len(ks) == len(images):
            return y
        out[torch.tensor(ks, device=out.device)] = y
    return out


def decode_bytes_batch(blobs, device, resize: int, crop: int, where=None):
    """Raw file bytes -> ((B', 3, crop, crop) uint8 on ``device``, [(position, error)] of undecodable ones).

    JPEGs are decoded in one ``torchvision.io.decode_jpeg`` call on ``device`` (nvjpeg on
    CUDA), then resized by :func:`resize_crop_batch`; other formats, and a batch whose
    joint decode fails, fall back to one-by-one decoding so that a bad file is reported by
    itself.  ``where``: names of the blobs for messages (default: their positions).
    """
    import torch

    out: list = [None] * len(blobs)
    failed: list[tuple[int, str]] = []
    jpeg_at = [k for k, b in enumerate(blobs) if is_jpeg(b)]
    if jpeg_at:
        try:
            decoded = decode_jpeg_rgb([_bytes_tensor(blobs[k]) for k in jpeg_at], device=device)
            for k, img in zip(jpeg_at, decoded):
                out[k] = img
        except RuntimeError:
            pass  # one bad file spoils the batch call: decode one by one below
    for k, b in enumerate(blobs):
        if out[k] is not None:
            continue
        try:
            if k in jpeg_at:
                try:
                    out[k] = decode_jpeg_rgb(_bytes_tensor(b), device=device)
                    continue
                except RuntimeError:
                    pass  # PIL decides below
            name = where[k] if where is not None else f"blob {k}"
            out[k] = decode_rgb_tensor(_bytes_tensor(b).numpy().tobytes(), name).to(device)
        except Exception as e:  # any decoder error: reported by position, decided by the caller
            failed.append((k, decode_error(e)))
    good = [img for img in out if img is not None]
    if not good:
        return torch.empty((0, 3, crop, crop), dtype=torch.uint8, device=device), failed
    return resize_crop_batch(good, resize, crop), failed
