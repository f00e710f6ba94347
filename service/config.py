"""The service's limits and defaults, set from `qsched serve` flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from qsched.model.problem import Limits
from qsched.model.validation import DEFAULT_WALL_SECONDS, MAX_WALL_SECONDS, BudgetPolicy

#: Where ``qsched serve`` listens unless told otherwise, and so where its clients look.
DEFAULT_ADDRESS = "127.0.0.1:50051"
#: Where solves can run: warm worker processes here, or Ray tasks.
EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class ServiceConfig:
    limits: Limits = field(default_factory=Limits)
    #: Solves running at once, each in its own process.
    workers: int = max(1, os.cpu_count() or 1)
    #: Wall time given to a solve whose budget sets neither time nor evaluations.
    default_wall_seconds: float = DEFAULT_WALL_SECONDS
    #: No solve runs longer than this, whatever its budget says.
    max_wall_seconds: float = MAX_WALL_SECONDS
    #: Jobs waiting for a worker before SubmitJob answers RESOURCE_EXHAUSTED.
    max_queued_jobs: int = 1000
    #: Largest request or response message.
    max_message_bytes: int = 64 * 1024 * 1024
    #: How long a worker may ignore "stop" before it is killed.
    grace_seconds: float = 2.0
    #: Concurrent RPCs (streams included) before new ones get RESOURCE_EXHAUSTED.
    max_concurrent_rpcs: int = 64
    #: Ended jobs older than this (seconds) are deleted; None keeps them.
    retain_seconds: float | None = None
    #: At most this many ended jobs are kept (the newest); None keeps all.
    max_ended_jobs: int | None = None
    #: Where solves run: "local" (warm worker processes) or "ray" (Ray tasks).
    executor: str = "local"
    #: The Ray cluster to join (None: start a local one); with ``executor="ray"`` only.
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        if not (self.default_wall_seconds > 0 and self.max_wall_seconds > 0):
            raise ValueError(
                "default and maximum wall seconds must be > 0 (the maximum caps the default)"
            )
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor must be {' or '.join(EXECUTORS)}, not {self.executor!r}")
        if not 1024 <= self.max_message_bytes < 2**31:
            raise ValueError("max message size must be between 1 KiB and 2 GiB")

    @property
    def budget_policy(self) -> BudgetPolicy:
        return BudgetPolicy(self.default_wall_seconds, self.max_wall_seconds)
