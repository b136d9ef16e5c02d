"""Training on several processes: torch.distributed's process group and DistributedDataParallel.

Under ``torchrun --nproc_per_node N`` (and ``--nnodes``) every process runs the same stage; torchrun's
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) sets up the
process group, on gloo for CPU and NCCL for CUDA (one GPU per process, ``cuda:LOCAL_RANK``).

The scheme keeps a run of N processes the same computation as one process with the same global batch:

- every process seeds alike and draws the whole global batch (rows, KNN partners, z, noise) from the same
  generators, then keeps its shard, rows ``[rank * B/N, (rank + 1) * B/N)``, so the batch does not depend on
  N, and instance-conditioning pairs are drawn over the global batch;
- DistributedDataParallel averages the gradients over the processes: each process's loss is a mean over its
  shard, so the average is the gradient of the global batch's mean (a masked mean is divided by the global
  count, ``masked_mean``); clipping and Adam then see the same gradients everywhere, so every copy of the
  weights, and G's weight average (updated by every process from its own copy), stays identical;
- the networks have no batch statistics (no BatchNorm) and no randomness inside, so nothing else depends on
  the shard.

Only process 0 writes (the log, the resumable state, the networks, config.json); every process reads the
resumable state when a run resumes.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Processes:
    """This process's place among the processes of a run: ``rank`` of ``world_size`` (one process: 0 of 1)."""

    rank: int = 0
    world_size: int = 1

    @property
    def main(self) -> bool:
        """Whether this process writes the files of the run (rank 0)."""
        return self.rank == 0

    def check_batch(self, batch_size: int) -> None:
        """Raises ValueError unless the global ``batch_size`` splits into equal shards."""
        if batch_size % self.world_size:
            raise ValueError(f"The batch size ({batch_size}) is the global batch and must be divisible by the number "
                             f"of processes ({self.world_size}); each process takes an equal shard of it.")

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This process's rows of a global batch: (B, ...) -> (B / world_size, ...)."""
        if self.world_size == 1:
            return batch
        size = batch.shape[0] // self.world_size
        return batch[self.rank * size : (self.rank + 1) * size]

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` in DistributedDataParallel (its gradients averaged over the processes in backward);
        ``module`` itself in a single process. Call the returned module's forward in training steps; the
        optimizer, the state and the files keep ``module``."""
        if self.world_size == 1:
            return module
        device = next(module.parameters()).device
        return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                                       broadcast_buffers=False)  # buffers are constants (no batch statistics)

    def masked_mean(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean of (B,) ``values`` where the (B,) bool ``mask`` holds, over the global batch.

        Scaled so that DistributedDataParallel's average over processes of its gradient is the gradient of
        the global masked mean (0 where the mask is empty)."""
        total = (values * mask.to(values.device)).sum()
        if self.world_size == 1:
            return total / mask.sum().clamp(min=1)
        count = mask.sum().to(values.device)
        dist.all_reduce(count)
        return total * self.world_size / count.clamp(min=1)

    def gather(self, batch: torch.Tensor) -> torch.Tensor:
        """Every process's shard of a global batch, concatenated in rank order: (B / world_size, ...) -> (B, ...).

        No gradient flows through it."""
        if self.world_size == 1:
            return batch
        parts = [torch.empty_like(batch) for _ in range(self.world_size)]
        dist.all_gather(parts, batch.contiguous())
        return torch.cat(parts)

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Each logged number averaged over the processes (the same keys in every process)."""
        if self.world_size == 1:
            return values
        t = torch.tensor(list(values.values()), dtype=torch.float64)
        if dist.get_backend() == "nccl":
            t = t.cuda()
        dist.all_reduce(t)
        return dict(zip(values, (t / self.world_size).tolist()))

    def barrier(self) -> None:
        """Wait for every process (nothing in a single process)."""
        if self.world_size > 1:
            dist.barrier()


@contextmanager
def processes(device: str):
    """The process group of a torchrun launch, for the duration of a stage.

    Yields ``(Processes, torch.device)``: with ``WORLD_SIZE`` > 1 in the environment a process group on
    NCCL (device "cuda": this process's GPU, ``cuda:LOCAL_RANK``) or gloo (device "cpu"), destroyed on exit
    unless it existed before; otherwise one process on ``device``.
    Raises:
        ValueError: a device other than "cpu" or "cuda" under torchrun.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1 and not dist.is_initialized():
        yield Processes(), torch.device(device)
        return
    kind = torch.device(device).type
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"Distributed training runs on 'cpu' (gloo) or 'cuda' (NCCL), got device {device!r}.")
    where = torch.device(device)
    if kind == "cuda":  # this process's GPU, set before NCCL starts so that its collectives run there
        where = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(where)
    owned = not dist.is_initialized()
    if owned:
        dist.init_process_group("nccl" if kind == "cuda" else "gloo")
    try:
        yield Processes(dist.get_rank(), dist.get_world_size()), where
    finally:
        if owned:
            dist.destroy_process_group()
