import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckResult(_message.Message):
    __slots__ = ("name", "passed", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    passed: bool
    detail: str
    def __init__(self, name: _Optional[str] = ..., passed: bool = ..., detail: _Optional[str] = ...) -> None: ...

class RiskDecision(_message.Message):
    __slots__ = ("client_order_id", "approved", "approved_quantity", "reasons", "checks", "decided_at")
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    APPROVED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    approved: bool
    approved_quantity: float
    reasons: _containers.RepeatedScalarFieldContainer[str]
    checks: _containers.RepeatedCompositeFieldContainer[CheckResult]
    decided_at: _timestamp_pb2.Timestamp
    def __init__(self, client_order_id: _Optional[str] = ..., approved: bool = ..., approved_quantity: _Optional[float] = ..., reasons: _Optional[_Iterable[str]] = ..., checks: _Optional[_Iterable[_Union[CheckResult, _Mapping]]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CircuitBreaker(_message.Message):
    __slots__ = ("name", "tripped", "value", "threshold", "action", "tripped_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TRIPPED_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TRIPPED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    tripped: bool
    value: float
    threshold: float
    action: str
    tripped_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., tripped: bool = ..., value: _Optional[float] = ..., threshold: _Optional[float] = ..., action: _Optional[str] = ..., tripped_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RiskStatus(_message.Message):
    __slots__ = ("halted", "halt_reason", "halt_operator", "halted_at", "breakers", "gross_exposure", "net_exposure", "value_at_risk", "conditional_value_at_risk", "var_confidence", "daily_pnl", "equity", "as_of")
    HALTED_FIELD_NUMBER: _ClassVar[int]
    HALT_REASON_FIELD_NUMBER: _ClassVar[int]
    HALT_OPERATOR_FIELD_NUMBER: _ClassVar[int]
    HALTED_AT_FIELD_NUMBER: _ClassVar[int]
    BREAKERS_FIELD_NUMBER: _ClassVar[int]
    GROSS_EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    NET_EXPOSURE_FIELD_NUMBER: _ClassVar[int]
    VALUE_AT_RISK_FIELD_NUMBER: _ClassVar[int]
    CONDITIONAL_VALUE_AT_RISK_FIELD_NUMBER: _ClassVar[int]
    VAR_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    DAILY_PNL_FIELD_NUMBER: _ClassVar[int]
    EQUITY_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    halted: bool
    halt_reason: str
    halt_operator: str
    halted_at: _timestamp_pb2.Timestamp
    breakers: _containers.RepeatedCompositeFieldContainer[CircuitBreaker]
    gross_exposure: float
    net_exposure: float
    value_at_risk: float
    conditional_value_at_risk: float
    var_confidence: float
    daily_pnl: float
    equity: float
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, halted: bool = ..., halt_reason: _Optional[str] = ..., halt_operator: _Optional[str] = ..., halted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., breakers: _Optional[_Iterable[_Union[CircuitBreaker, _Mapping]]] = ..., gross_exposure: _Optional[float] = ..., net_exposure: _Optional[float] = ..., value_at_risk: _Optional[float] = ..., conditional_value_at_risk: _Optional[float] = ..., var_confidence: _Optional[float] = ..., daily_pnl: _Optional[float] = ..., equity: _Optional[float] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
