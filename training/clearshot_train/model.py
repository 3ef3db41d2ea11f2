"""The 1x restoration network.

Layout (CPU-friendly, every layer a plain 3x3 convolution at half resolution):

    x (RGB, [0,1]) -> pixel-unshuffle 2 (12 ch at H/2 x W/2)
      -> conv3x3 12->C, PReLU
      -> N x [RepBlock C->C, PReLU]
      -> conv3x3 C->12 -> pixel-shuffle 2 -> + x  (global residual)

A RepBlock trains as three branches (3x3 conv, 1x1 conv, identity) that are merged into
one 3x3 convolution at export (RepVGG / ECBSR style): the multi-branch form trains more
easily, the merged form runs as fast as a plain convolution. The last convolution starts
at zero, so an untrained network is the identity and the loss starts at the input's own
error (the probe whose unshuffle variant "did not learn" began far from it).

A variant without the identity branch, with PyTorch's default initialisation and PReLU at
0.25 (run r4), fitted a tiny synthetic batch faster but did not learn at all on the real
pools: its last PReLU died within the warm-up and the residual stayed zero for 3 300 steps
(docs/TRAINING.md). This design learns on the pools from the first thousand steps.

The output is the input plus a residual, so `strength` in the service scales the residual:
0 = the input, 1 = the network's output.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class RepBlock(nn.Module):
    """3x3 conv + 1x1 conv + identity while training; one 3x3 conv after `merge()`."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.conv3 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 1)
        self.merged: nn.Conv2d | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.merged is not None:
            return self.merged(x)
        return self.conv3(x) + self.conv1(x) + x

    def merged_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.channels
        w = self.conv3.weight.detach().clone()
        b = self.conv3.bias.detach().clone()
        w[:, :, 1:2, 1:2] += self.conv1.weight.detach()
        b += self.conv1.bias.detach()
        idx = torch.arange(c)
        w[idx, idx, 1, 1] += 1.0
        return w, b

    def merge(self) -> None:
        w, b = self.merged_weights()
        conv = nn.Conv2d(self.channels, self.channels, 3, padding=1)
        conv.weight.data.copy_(w)
        conv.bias.data.copy_(b)
        self.merged = conv
        del self.conv3
        del self.conv1


class RestoreNet(nn.Module):
    def __init__(self, channels: int = 32, blocks: int = 6, unshuffle: int = 2):
        super().__init__()
        self.channels = channels
        self.blocks = blocks
        self.unshuffle = unshuffle
        inner = 3 * unshuffle * unshuffle
        self.head = nn.Conv2d(inner, channels, 3, padding=1)
        self.head_act = nn.PReLU(channels, init=0.1)
        self.body = nn.ModuleList(RepBlock(channels) for _ in range(blocks))
        self.acts = nn.ModuleList(nn.PReLU(channels, init=0.1) for _ in range(blocks))
        self.tail = nn.Conv2d(channels, inner, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)
        for blk in self.body:
            # Small branch weights: each block starts close to the identity.
            nn.init.normal_(blk.conv3.weight, std=0.02)
            nn.init.zeros_(blk.conv3.bias)
            nn.init.normal_(blk.conv1.weight, std=0.02)
            nn.init.zeros_(blk.conv1.bias)

    def config(self) -> dict:
        return {"channels": self.channels, "blocks": self.blocks, "unshuffle": self.unshuffle}

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        r = self.unshuffle
        y = F.pixel_unshuffle(x, r) if r > 1 else x
        y = self.head_act(self.head(y))
        for blk, act in zip(self.body, self.acts):
            y = act(blk(y))
        y = self.tail(y)
        return F.pixel_shuffle(y, r) if r > 1 else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.residual(x)

    def merge(self) -> "RestoreNet":
        for blk in self.body:
            blk.merge()
        return self

    def macs_per_pixel(self) -> int:
        """Multiply-adds per output pixel of the merged network."""
        r2 = self.unshuffle * self.unshuffle
        inner = 3 * r2
        c = self.channels
        per_low = 9 * (inner * c + self.blocks * c * c + c * inner)
        return per_low // r2


def build(cfg: dict) -> RestoreNet:
    return RestoreNet(channels=int(cfg["channels"]), blocks=int(cfg["blocks"]), unshuffle=int(cfg.get("unshuffle", 2)))
