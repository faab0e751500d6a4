"""Max pooling with the numbers of ``nn.MaxPool2d`` and a faster CPU forward.

On the CPU, torch's max pooling of a contiguous (N, C, H, W) tensor runs a scalar loop
per plane; the channels-last kernel vectorises over channels and took 0.7 ms instead of
7.8 ms for AMTNN's first LeNet block here (48 × 32 × 28 × 28, one thread).  Both pick the
first maximum of each window in the same scan order, so the values and the argmax indices
are equal; the backward pass scatters the gradient through those indices with the same
kernel ``nn.MaxPool2d`` uses (``max_pool2d_with_indices_backward`` on the contiguous
input), so every gradient is bitwise that of ``nn.MaxPool2d``
(tests/methods/test_pooling.py, ties included).  Elsewhere (CUDA) it is ``F.max_pool2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _channels_last_pool(x: torch.Tensor, kernel: int, stride: int, return_indices: bool = False):
    """F.max_pool2d by the channels-last kernel, returned contiguous (N, C, H, W)."""
    out = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), kernel, stride,
                       return_indices=return_indices)
    return tuple(o.contiguous() for o in out) if return_indices else out.contiguous()


class _ChannelsLastMaxPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
        out, idx = _channels_last_pool(x, kernel, stride, return_indices=True)
        ctx.save_for_backward(x, idx)
        ctx.kernel, ctx.stride = kernel, stride
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, idx = ctx.saved_tensors
        k, s = ctx.kernel, ctx.stride
        gx = torch.ops.aten.max_pool2d_with_indices_backward(grad.contiguous(), x, [k, k], [s, s], [0, 0], [1, 1],
                                                              False, idx)
        return gx, None, None


class MaxPool2d(nn.Module):
    """``nn.MaxPool2d(kernel, stride)`` (no padding, dilation 1), bit for bit."""

    def __init__(self, kernel: int, stride: int):
        super().__init__()
        self.kernel, self.stride = int(kernel), int(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.dim() != 4 or not x.is_contiguous():
            return F.max_pool2d(x, self.kernel, self.stride)
        if not (torch.is_grad_enabled() and x.requires_grad):
            return _channels_last_pool(x, self.kernel, self.stride)
        return _ChannelsLastMaxPool.apply(x, self.kernel, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel}, stride={self.stride}"


__all__ = ["MaxPool2d"]
