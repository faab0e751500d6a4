"""The shared attention encoder of the routing model (Kool et al. 2019, Sec. 3.1; POMO,
Kwon et al. 2020, keeps it with instance normalisation instead of batch normalisation).

Each of ``layers`` layers maps node embeddings h (B, N, d) to

    ĥ = IN(h + MHA(h, h, h))          (multi-head self-attention, ``heads`` heads of d/heads)
    h' = IN(ĥ + W_2 ReLU(W_1 ĥ))      (feed-forward, hidden width ``ff_hidden``)

IN the affine instance normalisation over the N nodes of each instance and channel.  The
public code's ``Encoder`` / ``Add_And_Normalization_Module`` / ``Feed_Forward_Module``
(LOGO-CUHKSZ/Principled-Task-Grouping, ``cop/Models/models.py``) compute the same layer;
here the attention is :func:`torch.nn.functional.scaled_dot_product_attention`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, N, heads * k) -> (B, heads, N, k)."""
    b, n, _ = x.shape
    return x.reshape(b, n, heads, -1).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, heads, N, k) -> (B, N, heads * k)."""
    b, h, n, k = x.shape
    return x.transpose(1, 2).reshape(b, n, h * k)


class InstanceNorm(nn.Module):
    """Affine instance normalisation of (B, N, d) over N."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.InstanceNorm1d(dim, affine=True, track_running_stats=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class EncoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, ff_hidden: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"embedding dim {dim} is not a multiple of heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.combine = nn.Linear(dim, dim)
        self.norm1, self.norm2 = InstanceNorm(dim), InstanceNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff_hidden), nn.ReLU(), nn.Linear(ff_hidden, dim))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        q, k, v = (split_heads(t, self.heads) for t in self.qkv(h).chunk(3, dim=-1))
        h = self.norm1(h + self.combine(merge_heads(F.scaled_dot_product_attention(q, k, v))))
        return self.norm2(h + self.ff(h))


class Encoder(nn.Module):
    """``layers`` :class:`EncoderLayer` in sequence: (B, N, d) -> (B, N, d)."""

    def __init__(self, dim: int, layers: int, heads: int, ff_hidden: int):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(dim, heads, ff_hidden) for _ in range(layers))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            h = layer(h)
        return h
