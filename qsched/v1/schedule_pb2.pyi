from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskSlot(_message.Message):
    __slots__ = ("task_id", "start_seconds", "finish_seconds", "deadline_missed")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FINISH_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MISSED_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    start_seconds: float
    finish_seconds: float
    deadline_missed: bool
    def __init__(self, task_id: _Optional[str] = ..., start_seconds: _Optional[float] = ..., finish_seconds: _Optional[float] = ..., deadline_missed: _Optional[bool] = ...) -> None: ...

class MachinePlan(_message.Message):
    __slots__ = ("machine_id", "dvfs_level", "tasks", "powered_on", "busy_seconds", "energy_joules", "utilization")
    MACHINE_ID_FIELD_NUMBER: _ClassVar[int]
    DVFS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    POWERED_ON_FIELD_NUMBER: _ClassVar[int]
    BUSY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ENERGY_JOULES_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    machine_id: str
    dvfs_level: int
    tasks: _containers.RepeatedCompositeFieldContainer[TaskSlot]
    powered_on: bool
    busy_seconds: float
    energy_joules: float
    utilization: float
    def __init__(self, machine_id: _Optional[str] = ..., dvfs_level: _Optional[int] = ..., tasks: _Optional[_Iterable[_Union[TaskSlot, _Mapping]]] = ..., powered_on: _Optional[bool] = ..., busy_seconds: _Optional[float] = ..., energy_joules: _Optional[float] = ..., utilization: _Optional[float] = ...) -> None: ...

class Metrics(_message.Message):
    __slots__ = ("energy_joules", "makespan_seconds", "utilization", "deadline_misses", "total_tardiness_seconds", "capacity_violations", "peak_power_watts", "power_cap_excess_watts", "feasible", "objective")
    ENERGY_JOULES_FIELD_NUMBER: _ClassVar[int]
    MAKESPAN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MISSES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TARDINESS_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    PEAK_POWER_WATTS_FIELD_NUMBER: _ClassVar[int]
    POWER_CAP_EXCESS_WATTS_FIELD_NUMBER: _ClassVar[int]
    FEASIBLE_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    energy_joules: float
    makespan_seconds: float
    utilization: float
    deadline_misses: int
    total_tardiness_seconds: float
    capacity_violations: int
    peak_power_watts: float
    power_cap_excess_watts: float
    feasible: bool
    objective: float
    def __init__(self, energy_joules: _Optional[float] = ..., makespan_seconds: _Optional[float] = ..., utilization: _Optional[float] = ..., deadline_misses: _Optional[int] = ..., total_tardiness_seconds: _Optional[float] = ..., capacity_violations: _Optional[int] = ..., peak_power_watts: _Optional[float] = ..., power_cap_excess_watts: _Optional[float] = ..., feasible: _Optional[bool] = ..., objective: _Optional[float] = ...) -> None: ...

class Schedule(_message.Message):
    __slots__ = ("assignment", "machines", "metrics")
    class AssignmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    MACHINES_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    assignment: _containers.ScalarMap[str, str]
    machines: _containers.RepeatedCompositeFieldContainer[MachinePlan]
    metrics: Metrics
    def __init__(self, assignment: _Optional[_Mapping[str, str]] = ..., machines: _Optional[_Iterable[_Union[MachinePlan, _Mapping]]] = ..., metrics: _Optional[_Union[Metrics, _Mapping]] = ...) -> None: ...
