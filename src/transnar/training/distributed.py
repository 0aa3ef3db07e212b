"""Data-parallel training over several processes (``torchrun``), shared by the trainers.

``torchrun --nproc-per-node K -m transnar ...`` starts K processes with the
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``
variables set; :func:`init_from_env` joins them into a process group (NCCL on
CUDA, gloo on the CPU). Each process then draws the same global batches from
the same seeded streams, works on its own share of them, and the gradients are
summed over the processes before every update (:func:`all_reduce_gradients`),
each process's loss being normalised by the *global* count of its terms. Every
process therefore makes the update a single process would make on the whole
global batch, up to the order of floating-point sums, and the model, the
optimizer and the random streams stay identical on all of them, so one process
(rank 0) writes the run directory, the logs and the checkpoints.

Gradients are all-reduced in flat buckets after the backward pass rather than
through :class:`torch.nn.parallel.DistributedDataParallel`: the NAR makes one
update per algorithm with only that algorithm's encoders and decoders, and the
DDP reducer would hand the other heads zero gradients, which Adam would then
apply (moving weights with their momentum); here parameters without a gradient
stay without one, exactly as in a single process.

Without a process group every helper is the single-process identity (rank 0 of
1), so the trainers call them unconditionally.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

TIMEOUT_ENV = "TRANSNAR_DIST_TIMEOUT_MINUTES"
"""Minutes a process waits for the others at a collective (default 120): rank 0
alone validates, tests and writes reports while the others wait."""

BUCKET_ELEMENTS = 1 << 22
"""Gradient elements per all-reduce bucket (16 MiB in fp32)."""


@dataclass(frozen=True)
class World:
    """This process's place among the training processes.

    Attributes:
        rank: 0 .. size - 1; rank 0 writes the run directory.
        size: the number of processes (1 without a process group).
        local_rank: the rank on this machine (the CUDA device to use).
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True for the process that writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, count: int) -> range:
        """The indices ``0 .. count - 1`` this process handles: ``rank, rank + size, ...``."""
        return range(self.rank, count, self.size)

    def rows(self, count: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """:meth:`shard` as an ``(R,)`` int64 index tensor, for ``index_select``."""
        return torch.arange(self.rank, count, self.size, device=device)


def world() -> World:
    """The current :class:`World` (rank 0 of 1 without a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    return World(dist.get_rank(), dist.get_world_size(), local_rank)


def init_from_env() -> World:
    """Joins the process group that ``torchrun`` describes in the environment.

    Does nothing (and returns rank 0 of 1) when ``WORLD_SIZE`` is unset or 1, or
    when a group already exists. On CUDA each process takes the device of its
    local rank.

    Raises:
        ValueError: malformed ``torchrun`` variables.
    """
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        timeout = float(os.environ.get(TIMEOUT_ENV, "120"))
    except ValueError as error:
        raise ValueError(f"bad distributed environment variable: {error}") from None
    if size <= 1 or (dist.is_available() and dist.is_initialized()):
        return world()
    if not dist.is_available():
        raise ValueError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    missing = [v for v in ("RANK", "MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
    if missing:
        raise ValueError(
            f"WORLD_SIZE={size} but {', '.join(missing)} not set: start the processes "
            "with torchrun (torchrun --nproc-per-node K -m transnar ...)"
        )
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend, timeout=datetime.timedelta(minutes=timeout))
    return world()


def leave_together() -> None:
    """Waits for every process before they leave the group: gloo may abort a
    process whose peer tore its connections down while it was still finishing
    the last collective. Call it only on success (a failed process would leave
    the others waiting here)."""
    barrier()


def shutdown() -> None:
    """Leaves the process group (at the end of a command; nothing without one)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def device_for(device: torch.device) -> torch.device:
    """``device`` made specific to this process: ``cuda`` becomes ``cuda:<local rank>``
    when several processes share the machine."""
    current = world()
    if device.type == "cuda" and device.index is None and current.distributed:
        return torch.device("cuda", current.local_rank)
    return device


def barrier() -> None:
    """Waits for every process (nothing without a process group)."""
    if world().distributed:
        dist.barrier()


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """The sum of ``values`` over the processes (``values`` itself in one process)."""
    if not world().distributed:
        return values
    summed = values.detach().clone()
    dist.all_reduce(summed)
    return summed


def sum_floats(values: Sequence[float]) -> list[float]:
    """Each of ``values`` summed over the processes, in float64."""
    if not world().distributed:
        return list(values)
    return all_reduce_sum(torch.tensor(list(values), dtype=torch.float64)).tolist()


def all_reduce_gradients(parameters: Iterable[torch.nn.Parameter]) -> None:
    """Replaces each gradient by its sum over the processes, in flat buckets.

    Parameters whose gradient is ``None`` are skipped; they must be the same on
    every process (the processes run the same model on the same algorithm).
    """
    if not world().distributed:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    for bucket in _buckets(grads):
        flat = torch.cat([g.reshape(-1) for g in bucket])
        dist.all_reduce(flat)
        offset = 0
        for g in bucket:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()


def gather_objects(value: Any) -> list[Any]:
    """``value`` of every process, in rank order (``[value]`` in one process; collective)."""
    current = world()
    if not current.distributed:
        return [value]
    gathered: list[Any] = [None] * current.size
    dist.all_gather_object(gathered, value)
    return gathered


def process_seed(seed: int, rank: int) -> int:
    """The seed of the random numbers (dropout, Gumbel noise) of process ``rank``,
    so that processes do not draw the same noise for different samples."""
    return (seed * 1_000_003 + 7_919 * (rank + 1)) % (1 << 63)


def gather_rng_states(device: torch.device) -> list[dict[str, torch.Tensor]]:
    """Every process's torch random states (CPU, and CUDA on a CUDA ``device``), in
    rank order, for a checkpoint (collective)."""
    rng = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return gather_objects(rng)


def restore_rng_states(train_state: dict[str, Any], device: torch.device) -> None:
    """Sets this process's torch random states from a checkpoint's training state:
    its ``rng_processes`` (:func:`gather_rng_states`'s list), or, in a checkpoint
    written before those were kept, its single process's ``rng``.

    Raises:
        ValueError: the states of another number of processes (a run resumes
            exactly only with the number of processes it was checkpointed with).
    """
    states = train_state.get("rng_processes") or [train_state["rng"]]
    current = world()
    if len(states) != current.size:
        raise ValueError(
            f"it was checkpointed by {len(states)} process(es), this run has {current.size}: "
            "resume it with the same number of processes"
        )
    mine = states[current.rank]
    torch.set_rng_state(mine["torch"])
    if device.type == "cuda" and "cuda" in mine:
        torch.cuda.set_rng_state(mine["cuda"], device)


def _buckets(tensors: list[torch.Tensor]) -> Iterator[list[torch.Tensor]]:
    """Consecutive groups of tensors of one dtype and device, of about
    :data:`BUCKET_ELEMENTS` elements each."""
    bucket: list[torch.Tensor] = []
    size = 0
    for tensor in tensors:
        if bucket and (
            size + tensor.numel() > BUCKET_ELEMENTS
            or (tensor.dtype, tensor.device) != (bucket[0].dtype, bucket[0].device)
        ):
            yield bucket
            bucket, size = [], 0
        bucket.append(tensor)
        size += tensor.numel()
    if bucket:
        yield bucket


__all__ = [
    "World",
    "all_reduce_gradients",
    "all_reduce_sum",
    "barrier",
    "device_for",
    "gather_objects",
    "gather_rng_states",
    "init_from_env",
    "leave_together",
    "process_seed",
    "restore_rng_states",
    "shutdown",
    "sum_floats",
    "world",
]
