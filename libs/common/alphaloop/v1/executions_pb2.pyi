import datetime

from alphaloop.v1 import orders_pb2 as _orders_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Liquidity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIQUIDITY_UNSPECIFIED: _ClassVar[Liquidity]
    LIQUIDITY_MAKER: _ClassVar[Liquidity]
    LIQUIDITY_TAKER: _ClassVar[Liquidity]
LIQUIDITY_UNSPECIFIED: Liquidity
LIQUIDITY_MAKER: Liquidity
LIQUIDITY_TAKER: Liquidity

class Fill(_message.Message):
    __slots__ = ("fill_id", "order_id", "client_order_id", "symbol", "side", "quantity", "price", "commission", "venue", "timestamp", "liquidity")
    FILL_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LIQUIDITY_FIELD_NUMBER: _ClassVar[int]
    fill_id: str
    order_id: str
    client_order_id: str
    symbol: str
    side: _orders_pb2.Side
    quantity: float
    price: float
    commission: float
    venue: str
    timestamp: _timestamp_pb2.Timestamp
    liquidity: Liquidity
    def __init__(self, fill_id: _Optional[str] = ..., order_id: _Optional[str] = ..., client_order_id: _Optional[str] = ..., symbol: _Optional[str] = ..., side: _Optional[_Union[_orders_pb2.Side, str]] = ..., quantity: _Optional[float] = ..., price: _Optional[float] = ..., commission: _Optional[float] = ..., venue: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., liquidity: _Optional[_Union[Liquidity, str]] = ...) -> None: ...

class OrderUpdate(_message.Message):
    __slots__ = ("order", "reason")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order: _orders_pb2.Order
    reason: str
    def __init__(self, order: _Optional[_Union[_orders_pb2.Order, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ExecutionEvent(_message.Message):
    __slots__ = ("fill", "order_update")
    FILL_FIELD_NUMBER: _ClassVar[int]
    ORDER_UPDATE_FIELD_NUMBER: _ClassVar[int]
    fill: Fill
    order_update: OrderUpdate
    def __init__(self, fill: _Optional[_Union[Fill, _Mapping]] = ..., order_update: _Optional[_Union[OrderUpdate, _Mapping]] = ...) -> None: ...
