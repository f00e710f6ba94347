import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from qsched.v1 import problem_pb2 as _problem_pb2
from qsched.v1 import schedule_pb2 as _schedule_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StopReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STOP_REASON_UNSPECIFIED: _ClassVar[StopReason]
    STOP_REASON_COMPLETED: _ClassVar[StopReason]
    STOP_REASON_BUDGET: _ClassVar[StopReason]
    STOP_REASON_DEADLINE: _ClassVar[StopReason]
    STOP_REASON_CANCELLED: _ClassVar[StopReason]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
    JOB_STATE_INTERRUPTED: _ClassVar[JobState]

class SolverKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SOLVER_KIND_UNSPECIFIED: _ClassVar[SolverKind]
    SOLVER_KIND_HEURISTIC: _ClassVar[SolverKind]
    SOLVER_KIND_METAHEURISTIC: _ClassVar[SolverKind]
    SOLVER_KIND_EXACT: _ClassVar[SolverKind]
    SOLVER_KIND_QUANTUM: _ClassVar[SolverKind]
STOP_REASON_UNSPECIFIED: StopReason
STOP_REASON_COMPLETED: StopReason
STOP_REASON_BUDGET: StopReason
STOP_REASON_DEADLINE: StopReason
STOP_REASON_CANCELLED: StopReason
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
JOB_STATE_INTERRUPTED: JobState
SOLVER_KIND_UNSPECIFIED: SolverKind
SOLVER_KIND_HEURISTIC: SolverKind
SOLVER_KIND_METAHEURISTIC: SolverKind
SOLVER_KIND_EXACT: SolverKind
SOLVER_KIND_QUANTUM: SolverKind

class Budget(_message.Message):
    __slots__ = ("wall_seconds", "evaluations")
    WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    wall_seconds: float
    evaluations: int
    def __init__(self, wall_seconds: _Optional[float] = ..., evaluations: _Optional[int] = ...) -> None: ...

class SolveRequest(_message.Message):
    __slots__ = ("problem", "solver", "backend", "budget", "seed", "options")
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    problem: _problem_pb2.AllocationProblem
    solver: str
    backend: str
    budget: Budget
    seed: int
    options: _struct_pb2.Struct
    def __init__(self, problem: _Optional[_Union[_problem_pb2.AllocationProblem, _Mapping]] = ..., solver: _Optional[str] = ..., backend: _Optional[str] = ..., budget: _Optional[_Union[Budget, _Mapping]] = ..., seed: _Optional[int] = ..., options: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ConvergencePoint(_message.Message):
    __slots__ = ("elapsed_seconds", "evaluations", "objective", "feasible", "stage")
    ELAPSED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    FEASIBLE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    elapsed_seconds: float
    evaluations: int
    objective: float
    feasible: bool
    stage: str
    def __init__(self, elapsed_seconds: _Optional[float] = ..., evaluations: _Optional[int] = ..., objective: _Optional[float] = ..., feasible: _Optional[bool] = ..., stage: _Optional[str] = ...) -> None: ...

class SolveResponse(_message.Message):
    __slots__ = ("schedule", "solver", "backend", "facts", "convergence", "elapsed_seconds", "evaluations", "stop_reason", "error", "bound", "stage_seconds")
    class StageSecondsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    CONVERGENCE_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    STAGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    schedule: _schedule_pb2.Schedule
    solver: str
    backend: str
    facts: _struct_pb2.Struct
    convergence: _containers.RepeatedCompositeFieldContainer[ConvergencePoint]
    elapsed_seconds: float
    evaluations: int
    stop_reason: StopReason
    error: _status_pb2.Status
    bound: float
    stage_seconds: _containers.ScalarMap[str, float]
    def __init__(self, schedule: _Optional[_Union[_schedule_pb2.Schedule, _Mapping]] = ..., solver: _Optional[str] = ..., backend: _Optional[str] = ..., facts: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., convergence: _Optional[_Iterable[_Union[ConvergencePoint, _Mapping]]] = ..., elapsed_seconds: _Optional[float] = ..., evaluations: _Optional[int] = ..., stop_reason: _Optional[_Union[StopReason, str]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., bound: _Optional[float] = ..., stage_seconds: _Optional[_Mapping[str, float]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "state", "solver", "problem_name", "created_time", "start_time", "end_time", "progress", "result", "error", "request")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: JobState
    solver: str
    problem_name: str
    created_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    progress: ConvergencePoint
    result: SolveResponse
    error: str
    request: SolveRequest
    def __init__(self, id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., solver: _Optional[str] = ..., problem_name: _Optional[str] = ..., created_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., progress: _Optional[_Union[ConvergencePoint, _Mapping]] = ..., result: _Optional[_Union[SolveResponse, _Mapping]] = ..., error: _Optional[str] = ..., request: _Optional[_Union[SolveRequest, _Mapping]] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: SolveRequest
    def __init__(self, request: _Optional[_Union[SolveRequest, _Mapping]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id", "include_request")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    include_request: bool
    def __init__(self, job_id: _Optional[str] = ..., include_request: _Optional[bool] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job", "progress")
    JOB_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    job: Job
    progress: ConvergencePoint
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., progress: _Optional[_Union[ConvergencePoint, _Mapping]] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("state", "page_size", "page_token")
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    state: JobState
    page_size: int
    page_token: str
    def __init__(self, state: _Optional[_Union[JobState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListSolversRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SolverInfo(_message.Message):
    __slots__ = ("name", "kind", "description", "max_tasks", "max_machines", "finite", "backends", "options")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MAX_TASKS_FIELD_NUMBER: _ClassVar[int]
    MAX_MACHINES_FIELD_NUMBER: _ClassVar[int]
    FINITE_FIELD_NUMBER: _ClassVar[int]
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: SolverKind
    description: str
    max_tasks: int
    max_machines: int
    finite: bool
    backends: _containers.RepeatedScalarFieldContainer[str]
    options: _containers.RepeatedCompositeFieldContainer[SolverOption]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[SolverKind, str]] = ..., description: _Optional[str] = ..., max_tasks: _Optional[int] = ..., max_machines: _Optional[int] = ..., finite: _Optional[bool] = ..., backends: _Optional[_Iterable[str]] = ..., options: _Optional[_Iterable[_Union[SolverOption, _Mapping]]] = ...) -> None: ...

class SolverOption(_message.Message):
    __slots__ = ("name", "type", "default_value", "description", "minimum", "maximum", "exclusive_minimum", "exclusive_maximum", "choices")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIVE_MINIMUM_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIVE_MAXIMUM_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    default_value: _struct_pb2.Value
    description: str
    minimum: float
    maximum: float
    exclusive_minimum: bool
    exclusive_maximum: bool
    choices: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., default_value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., description: _Optional[str] = ..., minimum: _Optional[float] = ..., maximum: _Optional[float] = ..., exclusive_minimum: _Optional[bool] = ..., exclusive_maximum: _Optional[bool] = ..., choices: _Optional[_Iterable[str]] = ...) -> None: ...

class ListSolversResponse(_message.Message):
    __slots__ = ("solvers", "max_tasks", "max_machines", "max_wall_seconds")
    SOLVERS_FIELD_NUMBER: _ClassVar[int]
    MAX_TASKS_FIELD_NUMBER: _ClassVar[int]
    MAX_MACHINES_FIELD_NUMBER: _ClassVar[int]
    MAX_WALL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    solvers: _containers.RepeatedCompositeFieldContainer[SolverInfo]
    max_tasks: int
    max_machines: int
    max_wall_seconds: float
    def __init__(self, solvers: _Optional[_Iterable[_Union[SolverInfo, _Mapping]]] = ..., max_tasks: _Optional[int] = ..., max_machines: _Optional[int] = ..., max_wall_seconds: _Optional[float] = ...) -> None: ...

class CompareRequest(_message.Message):
    __slots__ = ("problem", "solvers", "backend", "budget", "seed", "options")
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    SOLVERS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    problem: _problem_pb2.AllocationProblem
    solvers: _containers.RepeatedScalarFieldContainer[str]
    backend: str
    budget: Budget
    seed: int
    options: _struct_pb2.Struct
    def __init__(self, problem: _Optional[_Union[_problem_pb2.AllocationProblem, _Mapping]] = ..., solvers: _Optional[_Iterable[str]] = ..., backend: _Optional[str] = ..., budget: _Optional[_Union[Budget, _Mapping]] = ..., seed: _Optional[int] = ..., options: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CompareResponse(_message.Message):
    __slots__ = ("results", "best_bound")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    BEST_BOUND_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SolveResponse]
    best_bound: float
    def __init__(self, results: _Optional[_Iterable[_Union[SolveResponse, _Mapping]]] = ..., best_bound: _Optional[float] = ...) -> None: ...
