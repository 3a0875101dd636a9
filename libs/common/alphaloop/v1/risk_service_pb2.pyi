from alphaloop.v1 import orders_pb2 as _orders_pb2
from alphaloop.v1 import risk_pb2 as _risk_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckOrderRequest(_message.Message):
    __slots__ = ("intent",)
    INTENT_FIELD_NUMBER: _ClassVar[int]
    intent: _orders_pb2.OrderIntent
    def __init__(self, intent: _Optional[_Union[_orders_pb2.OrderIntent, _Mapping]] = ...) -> None: ...

class CheckOrderResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: _risk_pb2.RiskDecision
    def __init__(self, decision: _Optional[_Union[_risk_pb2.RiskDecision, _Mapping]] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _risk_pb2.RiskStatus
    def __init__(self, status: _Optional[_Union[_risk_pb2.RiskStatus, _Mapping]] = ...) -> None: ...

class HaltRequest(_message.Message):
    __slots__ = ("reason", "operator", "flatten")
    REASON_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    FLATTEN_FIELD_NUMBER: _ClassVar[int]
    reason: str
    operator: str
    flatten: bool
    def __init__(self, reason: _Optional[str] = ..., operator: _Optional[str] = ..., flatten: bool = ...) -> None: ...

class HaltResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _risk_pb2.RiskStatus
    def __init__(self, status: _Optional[_Union[_risk_pb2.RiskStatus, _Mapping]] = ...) -> None: ...

class ResumeRequest(_message.Message):
    __slots__ = ("reason", "operator")
    REASON_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    reason: str
    operator: str
    def __init__(self, reason: _Optional[str] = ..., operator: _Optional[str] = ...) -> None: ...

class ResumeResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _risk_pb2.RiskStatus
    def __init__(self, status: _Optional[_Union[_risk_pb2.RiskStatus, _Mapping]] = ...) -> None: ...
