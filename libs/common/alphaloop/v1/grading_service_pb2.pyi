import datetime

from alphaloop.v1 import grades_pb2 as _grades_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GradeRequest(_message.Message):
    __slots__ = ("model_id", "model_version", "strategy", "out_of_sample_start", "out_of_sample_end", "promote_if_passed")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_SAMPLE_START_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_SAMPLE_END_FIELD_NUMBER: _ClassVar[int]
    PROMOTE_IF_PASSED_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    model_version: str
    strategy: str
    out_of_sample_start: _timestamp_pb2.Timestamp
    out_of_sample_end: _timestamp_pb2.Timestamp
    promote_if_passed: bool
    def __init__(self, model_id: _Optional[str] = ..., model_version: _Optional[str] = ..., strategy: _Optional[str] = ..., out_of_sample_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., out_of_sample_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., promote_if_passed: bool = ...) -> None: ...

class GradeResponse(_message.Message):
    __slots__ = ("grade",)
    GRADE_FIELD_NUMBER: _ClassVar[int]
    grade: _grades_pb2.StrategyGrade
    def __init__(self, grade: _Optional[_Union[_grades_pb2.StrategyGrade, _Mapping]] = ...) -> None: ...

class BacktestRequest(_message.Message):
    __slots__ = ("model_id", "model_version", "strategy", "symbols", "start", "end", "interval", "initial_cash", "commission_bps", "slippage_bps")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    INITIAL_CASH_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_BPS_FIELD_NUMBER: _ClassVar[int]
    SLIPPAGE_BPS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    model_version: str
    strategy: str
    symbols: _containers.RepeatedScalarFieldContainer[str]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    interval: str
    initial_cash: float
    commission_bps: float
    slippage_bps: float
    def __init__(self, model_id: _Optional[str] = ..., model_version: _Optional[str] = ..., strategy: _Optional[str] = ..., symbols: _Optional[_Iterable[str]] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., interval: _Optional[str] = ..., initial_cash: _Optional[float] = ..., commission_bps: _Optional[float] = ..., slippage_bps: _Optional[float] = ...) -> None: ...

class EquityPoint(_message.Message):
    __slots__ = ("timestamp", "equity")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    EQUITY_FIELD_NUMBER: _ClassVar[int]
    timestamp: _timestamp_pb2.Timestamp
    equity: float
    def __init__(self, timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., equity: _Optional[float] = ...) -> None: ...

class BacktestResponse(_message.Message):
    __slots__ = ("run_id", "metrics", "equity_curve", "trade_count", "final_equity", "report_uri")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    EQUITY_CURVE_FIELD_NUMBER: _ClassVar[int]
    TRADE_COUNT_FIELD_NUMBER: _ClassVar[int]
    FINAL_EQUITY_FIELD_NUMBER: _ClassVar[int]
    REPORT_URI_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    metrics: _containers.ScalarMap[str, float]
    equity_curve: _containers.RepeatedCompositeFieldContainer[EquityPoint]
    trade_count: int
    final_equity: float
    report_uri: str
    def __init__(self, run_id: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., equity_curve: _Optional[_Iterable[_Union[EquityPoint, _Mapping]]] = ..., trade_count: _Optional[int] = ..., final_equity: _Optional[float] = ..., report_uri: _Optional[str] = ...) -> None: ...

class ListGradesRequest(_message.Message):
    __slots__ = ("strategy", "model_id", "limit")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    model_id: str
    limit: int
    def __init__(self, strategy: _Optional[str] = ..., model_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListGradesResponse(_message.Message):
    __slots__ = ("grades",)
    GRADES_FIELD_NUMBER: _ClassVar[int]
    grades: _containers.RepeatedCompositeFieldContainer[_grades_pb2.StrategyGrade]
    def __init__(self, grades: _Optional[_Iterable[_Union[_grades_pb2.StrategyGrade, _Mapping]]] = ...) -> None: ...

class PromoteRequest(_message.Message):
    __slots__ = ("model_id", "model_version", "reason", "operator")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    model_version: str
    reason: str
    operator: str
    def __init__(self, model_id: _Optional[str] = ..., model_version: _Optional[str] = ..., reason: _Optional[str] = ..., operator: _Optional[str] = ...) -> None: ...

class PromoteResponse(_message.Message):
    __slots__ = ("promoted", "alias", "previous_version", "gate_failures", "grade")
    PROMOTED_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    GATE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    promoted: bool
    alias: str
    previous_version: str
    gate_failures: _containers.RepeatedScalarFieldContainer[str]
    grade: _grades_pb2.StrategyGrade
    def __init__(self, promoted: bool = ..., alias: _Optional[str] = ..., previous_version: _Optional[str] = ..., gate_failures: _Optional[_Iterable[str]] = ..., grade: _Optional[_Union[_grades_pb2.StrategyGrade, _Mapping]] = ...) -> None: ...
