import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GradeLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRADE_LEVEL_UNSPECIFIED: _ClassVar[GradeLevel]
    GRADE_LEVEL_ELITE: _ClassVar[GradeLevel]
    GRADE_LEVEL_BATTLE_READY: _ClassVar[GradeLevel]
    GRADE_LEVEL_DEVELOPING: _ClassVar[GradeLevel]
    GRADE_LEVEL_INADEQUATE: _ClassVar[GradeLevel]
    GRADE_LEVEL_FAILED: _ClassVar[GradeLevel]
GRADE_LEVEL_UNSPECIFIED: GradeLevel
GRADE_LEVEL_ELITE: GradeLevel
GRADE_LEVEL_BATTLE_READY: GradeLevel
GRADE_LEVEL_DEVELOPING: GradeLevel
GRADE_LEVEL_INADEQUATE: GradeLevel
GRADE_LEVEL_FAILED: GradeLevel

class StrategyGrade(_message.Message):
    __slots__ = ("strategy", "model_id", "model_version", "score", "level", "metrics", "promoted", "passed_gate", "gate_failures", "out_of_sample_start", "out_of_sample_end", "graded_at")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_FIELD_NUMBER: _ClassVar[int]
    PASSED_GATE_FIELD_NUMBER: _ClassVar[int]
    GATE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_SAMPLE_START_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_SAMPLE_END_FIELD_NUMBER: _ClassVar[int]
    GRADED_AT_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    model_id: str
    model_version: str
    score: float
    level: GradeLevel
    metrics: _containers.ScalarMap[str, float]
    promoted: bool
    passed_gate: bool
    gate_failures: _containers.RepeatedScalarFieldContainer[str]
    out_of_sample_start: _timestamp_pb2.Timestamp
    out_of_sample_end: _timestamp_pb2.Timestamp
    graded_at: _timestamp_pb2.Timestamp
    def __init__(self, strategy: _Optional[str] = ..., model_id: _Optional[str] = ..., model_version: _Optional[str] = ..., score: _Optional[float] = ..., level: _Optional[_Union[GradeLevel, str]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., promoted: bool = ..., passed_gate: bool = ..., gate_failures: _Optional[_Iterable[str]] = ..., out_of_sample_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., out_of_sample_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., graded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
