"""torchrun / DDP helpers. Without torchrun's environment everything is a single process.

Batches are drawn for the *global* batch from a generator seeded by (seed, step) and each rank
takes its own slice, so N processes see exactly the data one process would, which makes
multi-process runs comparable to single-process ones and resumable with a different N.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def init(device_type: str) -> DistInfo:
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return DistInfo()
    backend = "nccl" if device_type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    info = DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    if device_type == "cuda":
        torch.cuda.set_device(info.local_rank)
    return info


def all_reduce_grads(model: torch.nn.Module, world: int) -> None:
    """Average gradients across ranks (explicit, instead of DDP's wrapper, so gradient
    accumulation and the NaN-skip logic stay visible in the training loop)."""
    if world <= 1:
        return
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    off = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[off:off + n].view_as(g))
        off += n


def all_reduce_scalar(x: float, world: int, device: torch.device) -> float:
    if world <= 1:
        return x
    t = torch.tensor([x], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / world


def all_reduce_sum_(arrays: list[np.ndarray], world: int, device: torch.device) -> None:
    """Sum float arrays across ranks, in place (e.g. per-t-bin loss sums and counts)."""
    if world <= 1 or not arrays:
        return
    t = torch.from_numpy(np.concatenate([a.ravel() for a in arrays]).astype(np.float64)).to(device)
    dist.all_reduce(t)
    flat = t.cpu().numpy()
    off = 0
    for a in arrays:
        np.copyto(a, flat[off:off + a.size].reshape(a.shape))
        off += a.size


def any_rank(flag: bool, world: int, device: torch.device) -> bool:
    """True on every rank when any rank passes True. Ranks that decide to stop (SIGTERM, a wall
    time limit) on their own would stop at different steps and leave the others blocked in the
    next all-reduce; deciding together makes them all stop after the same step."""
    if world <= 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
