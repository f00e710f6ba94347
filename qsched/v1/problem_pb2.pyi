from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Task(_message.Message):
    __slots__ = ("id", "work", "etc", "demand", "deadline", "load")
    class EtcEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class DemandEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    WORK_FIELD_NUMBER: _ClassVar[int]
    ETC_FIELD_NUMBER: _ClassVar[int]
    DEMAND_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    LOAD_FIELD_NUMBER: _ClassVar[int]
    id: str
    work: float
    etc: _containers.ScalarMap[str, float]
    demand: _containers.ScalarMap[str, float]
    deadline: float
    load: float
    def __init__(self, id: _Optional[str] = ..., work: _Optional[float] = ..., etc: _Optional[_Mapping[str, float]] = ..., demand: _Optional[_Mapping[str, float]] = ..., deadline: _Optional[float] = ..., load: _Optional[float] = ...) -> None: ...

class LinearPower(_message.Message):
    __slots__ = ("idle_watts", "peak_watts")
    IDLE_WATTS_FIELD_NUMBER: _ClassVar[int]
    PEAK_WATTS_FIELD_NUMBER: _ClassVar[int]
    idle_watts: float
    peak_watts: float
    def __init__(self, idle_watts: _Optional[float] = ..., peak_watts: _Optional[float] = ...) -> None: ...

class SpecPowerCurve(_message.Message):
    __slots__ = ("watts",)
    WATTS_FIELD_NUMBER: _ClassVar[int]
    watts: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, watts: _Optional[_Iterable[float]] = ...) -> None: ...

class DvfsLevel(_message.Message):
    __slots__ = ("frequency", "peak_watts")
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    PEAK_WATTS_FIELD_NUMBER: _ClassVar[int]
    frequency: float
    peak_watts: float
    def __init__(self, frequency: _Optional[float] = ..., peak_watts: _Optional[float] = ...) -> None: ...

class Machine(_message.Message):
    __slots__ = ("id", "speed", "capacity", "linear_power", "spec_power", "dvfs_levels")
    class CapacityEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    LINEAR_POWER_FIELD_NUMBER: _ClassVar[int]
    SPEC_POWER_FIELD_NUMBER: _ClassVar[int]
    DVFS_LEVELS_FIELD_NUMBER: _ClassVar[int]
    id: str
    speed: float
    capacity: _containers.ScalarMap[str, float]
    linear_power: LinearPower
    spec_power: SpecPowerCurve
    dvfs_levels: _containers.RepeatedCompositeFieldContainer[DvfsLevel]
    def __init__(self, id: _Optional[str] = ..., speed: _Optional[float] = ..., capacity: _Optional[_Mapping[str, float]] = ..., linear_power: _Optional[_Union[LinearPower, _Mapping]] = ..., spec_power: _Optional[_Union[SpecPowerCurve, _Mapping]] = ..., dvfs_levels: _Optional[_Iterable[_Union[DvfsLevel, _Mapping]]] = ...) -> None: ...

class Objective(_message.Message):
    __slots__ = ("energy_weight", "makespan_weight")
    ENERGY_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    MAKESPAN_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    energy_weight: float
    makespan_weight: float
    def __init__(self, energy_weight: _Optional[float] = ..., makespan_weight: _Optional[float] = ...) -> None: ...

class AllocationProblem(_message.Message):
    __slots__ = ("name", "tasks", "machines", "power_cap_watts", "objective", "idle_machines_on")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    MACHINES_FIELD_NUMBER: _ClassVar[int]
    POWER_CAP_WATTS_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    IDLE_MACHINES_ON_FIELD_NUMBER: _ClassVar[int]
    name: str
    tasks: _containers.RepeatedCompositeFieldContainer[Task]
    machines: _containers.RepeatedCompositeFieldContainer[Machine]
    power_cap_watts: float
    objective: Objective
    idle_machines_on: bool
    def __init__(self, name: _Optional[str] = ..., tasks: _Optional[_Iterable[_Union[Task, _Mapping]]] = ..., machines: _Optional[_Iterable[_Union[Machine, _Mapping]]] = ..., power_cap_watts: _Optional[float] = ..., objective: _Optional[_Union[Objective, _Mapping]] = ..., idle_machines_on: _Optional[bool] = ...) -> None: ...
