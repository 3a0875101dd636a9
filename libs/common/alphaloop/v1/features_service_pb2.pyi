from alphaloop.v1 import features_pb2 as _features_pb2
from alphaloop.v1 import market_data_pb2 as _market_data_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ComputeFeaturesRequest(_message.Message):
    __slots__ = ("bars", "range", "names")
    BARS_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    bars: _market_data_pb2.BarBatch
    range: _market_data_pb2.BarRange
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, bars: _Optional[_Union[_market_data_pb2.BarBatch, _Mapping]] = ..., range: _Optional[_Union[_market_data_pb2.BarRange, _Mapping]] = ..., names: _Optional[_Iterable[str]] = ...) -> None: ...

class ComputeFeaturesResponse(_message.Message):
    __slots__ = ("vectors", "feature_set_version")
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SET_VERSION_FIELD_NUMBER: _ClassVar[int]
    vectors: _containers.RepeatedCompositeFieldContainer[_features_pb2.FeatureVector]
    feature_set_version: str
    def __init__(self, vectors: _Optional[_Iterable[_Union[_features_pb2.FeatureVector, _Mapping]]] = ..., feature_set_version: _Optional[str] = ...) -> None: ...

class DescribeFeaturesRequest(_message.Message):
    __slots__ = ("names", "family")
    NAMES_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    family: str
    def __init__(self, names: _Optional[_Iterable[str]] = ..., family: _Optional[str] = ...) -> None: ...

class DescribeFeaturesResponse(_message.Message):
    __slots__ = ("features", "feature_set_version")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_SET_VERSION_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[_features_pb2.FeatureSpec]
    feature_set_version: str
    def __init__(self, features: _Optional[_Iterable[_Union[_features_pb2.FeatureSpec, _Mapping]]] = ..., feature_set_version: _Optional[str] = ...) -> None: ...
