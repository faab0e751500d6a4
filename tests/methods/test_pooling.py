"""methods/blocks/pooling.MaxPool2d gives nn.MaxPool2d's outputs and gradients bit for bit."""

import torch
from torch import nn

from mtlbench.methods.blocks.pooling import MaxPool2d


def _lenet(pool):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 5, padding=2), nn.ELU(), pool(3, 2),
                         nn.Conv2d(8, 16, 5, padding=2), nn.ELU(), pool(3, 2))


def test_outputs_and_every_gradient_equal_nn_maxpool_with_ties():
    torch.manual_seed(1)
    x = torch.rand(6, 3, 28, 28)
    x[:, :, :9] = 0.0  # constant background: many windows hold tied maxima
    x[:, :, :, 19:] = 0.5
    results = []
    for pool in (nn.MaxPool2d, MaxPool2d):
        net = _lenet(pool)
        out = net(x)
        (out.square().sum() + out[:, :3].sum()).backward()
        results.append((out.detach(), [p.grad for p in net.parameters()]))
    (o1, g1), (o2, g2) = results
    assert torch.equal(o1, o2)
    assert all(torch.equal(a, b) for a, b in zip(g1, g2))


def test_input_gradient_and_no_grad_path_equal_nn_maxpool():
    torch.manual_seed(2)
    y = torch.randn(4, 5, 13, 13)
    y[:, :, 3:9, 3:9] = 1.0  # ties
    a, b = y.clone().requires_grad_(), y.clone().requires_grad_()
    g = torch.randn(4, 5, 6, 6)
    nn.MaxPool2d(3, 2)(a).backward(g)
    MaxPool2d(3, 2)(b).backward(g)
    assert torch.equal(a.grad, b.grad)
    with torch.no_grad():
        assert torch.equal(nn.MaxPool2d(3, 2)(y), MaxPool2d(3, 2)(y))
        assert MaxPool2d(3, 2)(y).is_contiguous()
