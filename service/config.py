"""The service's limits and defaults, set from `qsched serve` flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from qsched.problem import Limits


@dataclass(frozen=True)
class ServiceConfig:
    limits: Limits = field(default_factory=Limits)
    #: Solves running at once, each in its own process.
    workers: int = max(1, os.cpu_count() or 1)
    #: Wall time given to a solve whose budget sets neither time nor evaluations.
    default_wall_seconds: float = 10.0
    #: No solve runs longer than this, whatever its budget says.
    max_wall_seconds: float = 3600.0
    #: Jobs waiting for a worker before SubmitJob answers RESOURCE_EXHAUSTED.
    max_queued_jobs: int = 1000
    #: Largest request or response message.
    max_message_bytes: int = 64 * 1024 * 1024
    #: How long a worker may ignore "stop" before it is killed.
    grace_seconds: float = 2.0
    #: Concurrent RPCs (streams included) before new ones get RESOURCE_EXHAUSTED.
    max_concurrent_rpcs: int = 64
