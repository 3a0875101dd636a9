import datetime

from alphaloop.v1 import features_pb2 as _features_pb2
from alphaloop.v1 import signals_pb2 as _signals_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Staleness(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STALENESS_UNSPECIFIED: _ClassVar[Staleness]
    STALENESS_FRESH: _ClassVar[Staleness]
    STALENESS_AGING: _ClassVar[Staleness]
    STALENESS_STALE: _ClassVar[Staleness]
    STALENESS_CRITICAL: _ClassVar[Staleness]
STALENESS_UNSPECIFIED: Staleness
STALENESS_FRESH: Staleness
STALENESS_AGING: Staleness
STALENESS_STALE: Staleness
STALENESS_CRITICAL: Staleness

class TrainRequest(_message.Message):
    __slots__ = ("config_path", "config_text")
    CONFIG_PATH_FIELD_NUMBER: _ClassVar[int]
    CONFIG_TEXT_FIELD_NUMBER: _ClassVar[int]
    config_path: str
    config_text: str
    def __init__(self, config_path: _Optional[str] = ..., config_text: _Optional[str] = ...) -> None: ...

class TrainResponse(_message.Message):
    __slots__ = ("run_id", "model_id", "model_version", "metrics")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    model_id: str
    model_version: str
    metrics: _containers.ScalarMap[str, float]
    def __init__(self, run_id: _Optional[str] = ..., model_id: _Optional[str] = ..., model_version: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("features", "model_id", "model_version", "strategy")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[_features_pb2.FeatureVector]
    model_id: str
    model_version: str
    strategy: str
    def __init__(self, features: _Optional[_Iterable[_Union[_features_pb2.FeatureVector, _Mapping]]] = ..., model_id: _Optional[str] = ..., model_version: _Optional[str] = ..., strategy: _Optional[str] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("signals", "model_id", "model_version")
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    signals: _containers.RepeatedCompositeFieldContainer[_signals_pb2.Signal]
    model_id: str
    model_version: str
    def __init__(self, signals: _Optional[_Iterable[_Union[_signals_pb2.Signal, _Mapping]]] = ..., model_id: _Optional[str] = ..., model_version: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "version", "aliases", "metrics", "staleness", "trained_at", "run_id")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    STALENESS_FIELD_NUMBER: _ClassVar[int]
    TRAINED_AT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    metrics: _containers.ScalarMap[str, float]
    staleness: Staleness
    trained_at: _timestamp_pb2.Timestamp
    run_id: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., staleness: _Optional[_Union[Staleness, str]] = ..., trained_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., run_id: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...
