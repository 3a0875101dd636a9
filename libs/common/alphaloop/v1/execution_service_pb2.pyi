import datetime

from alphaloop.v1 import orders_pb2 as _orders_pb2
from alphaloop.v1 import positions_pb2 as _positions_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DifferenceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIFFERENCE_KIND_UNSPECIFIED: _ClassVar[DifferenceKind]
    DIFFERENCE_KIND_POSITION_MISMATCH: _ClassVar[DifferenceKind]
    DIFFERENCE_KIND_ORDER_MISSING_LOCALLY: _ClassVar[DifferenceKind]
    DIFFERENCE_KIND_ORDER_MISSING_AT_VENUE: _ClassVar[DifferenceKind]
    DIFFERENCE_KIND_ORDER_STATE_MISMATCH: _ClassVar[DifferenceKind]
DIFFERENCE_KIND_UNSPECIFIED: DifferenceKind
DIFFERENCE_KIND_POSITION_MISMATCH: DifferenceKind
DIFFERENCE_KIND_ORDER_MISSING_LOCALLY: DifferenceKind
DIFFERENCE_KIND_ORDER_MISSING_AT_VENUE: DifferenceKind
DIFFERENCE_KIND_ORDER_STATE_MISMATCH: DifferenceKind

class SubmitOrderRequest(_message.Message):
    __slots__ = ("intent",)
    INTENT_FIELD_NUMBER: _ClassVar[int]
    intent: _orders_pb2.OrderIntent
    def __init__(self, intent: _Optional[_Union[_orders_pb2.OrderIntent, _Mapping]] = ...) -> None: ...

class SubmitOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: _orders_pb2.Order
    def __init__(self, order: _Optional[_Union[_orders_pb2.Order, _Mapping]] = ...) -> None: ...

class CancelAllRequest(_message.Message):
    __slots__ = ("reason", "symbol")
    REASON_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    reason: str
    symbol: str
    def __init__(self, reason: _Optional[str] = ..., symbol: _Optional[str] = ...) -> None: ...

class CancelAllResponse(_message.Message):
    __slots__ = ("canceled_count",)
    CANCELED_COUNT_FIELD_NUMBER: _ClassVar[int]
    canceled_count: int
    def __init__(self, canceled_count: _Optional[int] = ...) -> None: ...

class GetPositionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPositionsResponse(_message.Message):
    __slots__ = ("portfolio",)
    PORTFOLIO_FIELD_NUMBER: _ClassVar[int]
    portfolio: _positions_pb2.PortfolioSnapshot
    def __init__(self, portfolio: _Optional[_Union[_positions_pb2.PortfolioSnapshot, _Mapping]] = ...) -> None: ...

class ReconcileRequest(_message.Message):
    __slots__ = ("repair",)
    REPAIR_FIELD_NUMBER: _ClassVar[int]
    repair: bool
    def __init__(self, repair: bool = ...) -> None: ...

class ReconcileDifference(_message.Message):
    __slots__ = ("kind", "symbol", "order_id", "client_order_id", "local_quantity", "venue_quantity", "detail")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LOCAL_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    VENUE_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    kind: DifferenceKind
    symbol: str
    order_id: str
    client_order_id: str
    local_quantity: float
    venue_quantity: float
    detail: str
    def __init__(self, kind: _Optional[_Union[DifferenceKind, str]] = ..., symbol: _Optional[str] = ..., order_id: _Optional[str] = ..., client_order_id: _Optional[str] = ..., local_quantity: _Optional[float] = ..., venue_quantity: _Optional[float] = ..., detail: _Optional[str] = ...) -> None: ...

class ReconcileResponse(_message.Message):
    __slots__ = ("in_sync", "differences", "repaired", "checked_at")
    IN_SYNC_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    REPAIRED_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    in_sync: bool
    differences: _containers.RepeatedCompositeFieldContainer[ReconcileDifference]
    repaired: bool
    checked_at: _timestamp_pb2.Timestamp
    def __init__(self, in_sync: bool = ..., differences: _Optional[_Iterable[_Union[ReconcileDifference, _Mapping]]] = ..., repaired: bool = ..., checked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
