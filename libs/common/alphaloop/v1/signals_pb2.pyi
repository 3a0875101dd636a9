import datetime

from alphaloop.v1 import orders_pb2 as _orders_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Signal(_message.Message):
    __slots__ = ("signal_id", "symbol", "timestamp", "model_id", "model_version", "probability", "side", "horizon_bars", "strategy")
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    HORIZON_BARS_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    signal_id: str
    symbol: str
    timestamp: _timestamp_pb2.Timestamp
    model_id: str
    model_version: str
    probability: float
    side: _orders_pb2.Side
    horizon_bars: int
    strategy: str
    def __init__(self, signal_id: _Optional[str] = ..., symbol: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., model_id: _Optional[str] = ..., model_version: _Optional[str] = ..., probability: _Optional[float] = ..., side: _Optional[_Union[_orders_pb2.Side, str]] = ..., horizon_bars: _Optional[int] = ..., strategy: _Optional[str] = ...) -> None: ...
