import datetime

from alphaloop.v1 import market_data_pb2 as _market_data_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HydrateRequest(_message.Message):
    __slots__ = ("source", "symbols", "start", "end", "interval", "restart")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    RESTART_FIELD_NUMBER: _ClassVar[int]
    source: str
    symbols: _containers.RepeatedScalarFieldContainer[str]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    interval: str
    restart: bool
    def __init__(self, source: _Optional[str] = ..., symbols: _Optional[_Iterable[str]] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., interval: _Optional[str] = ..., restart: bool = ...) -> None: ...

class HydrateProgress(_message.Message):
    __slots__ = ("symbols_done", "symbols_total", "bars_written", "bars_quarantined", "symbols_per_second", "eta_seconds", "current_symbol", "message", "finished")
    SYMBOLS_DONE_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    BARS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    BARS_QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    symbols_done: int
    symbols_total: int
    bars_written: int
    bars_quarantined: int
    symbols_per_second: float
    eta_seconds: float
    current_symbol: str
    message: str
    finished: bool
    def __init__(self, symbols_done: _Optional[int] = ..., symbols_total: _Optional[int] = ..., bars_written: _Optional[int] = ..., bars_quarantined: _Optional[int] = ..., symbols_per_second: _Optional[float] = ..., eta_seconds: _Optional[float] = ..., current_symbol: _Optional[str] = ..., message: _Optional[str] = ..., finished: bool = ...) -> None: ...

class GetBarsRequest(_message.Message):
    __slots__ = ("symbols", "start", "end", "interval")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    interval: str
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., interval: _Optional[str] = ...) -> None: ...

class GetBarsResponse(_message.Message):
    __slots__ = ("bars",)
    BARS_FIELD_NUMBER: _ClassVar[int]
    bars: _containers.RepeatedCompositeFieldContainer[_market_data_pb2.Bar]
    def __init__(self, bars: _Optional[_Iterable[_Union[_market_data_pb2.Bar, _Mapping]]] = ...) -> None: ...

class ListSymbolsRequest(_message.Message):
    __slots__ = ("interval", "source")
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    interval: str
    source: str
    def __init__(self, interval: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class SymbolInfo(_message.Message):
    __slots__ = ("symbol", "interval", "source", "first_timestamp", "last_timestamp", "bar_count")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FIRST_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LAST_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    BAR_COUNT_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    interval: str
    source: str
    first_timestamp: _timestamp_pb2.Timestamp
    last_timestamp: _timestamp_pb2.Timestamp
    bar_count: int
    def __init__(self, symbol: _Optional[str] = ..., interval: _Optional[str] = ..., source: _Optional[str] = ..., first_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bar_count: _Optional[int] = ...) -> None: ...

class ListSymbolsResponse(_message.Message):
    __slots__ = ("symbols",)
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedCompositeFieldContainer[SymbolInfo]
    def __init__(self, symbols: _Optional[_Iterable[_Union[SymbolInfo, _Mapping]]] = ...) -> None: ...
