import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ControlAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTROL_ACTION_UNSPECIFIED: _ClassVar[ControlAction]
    CONTROL_ACTION_HALT: _ClassVar[ControlAction]
    CONTROL_ACTION_RESUME: _ClassVar[ControlAction]
CONTROL_ACTION_UNSPECIFIED: ControlAction
CONTROL_ACTION_HALT: ControlAction
CONTROL_ACTION_RESUME: ControlAction

class ControlCommand(_message.Message):
    __slots__ = ("command_id", "action", "reason", "operator", "flatten", "issued_at", "scope")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    FLATTEN_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    action: ControlAction
    reason: str
    operator: str
    flatten: bool
    issued_at: _timestamp_pb2.Timestamp
    scope: str
    def __init__(self, command_id: _Optional[str] = ..., action: _Optional[_Union[ControlAction, str]] = ..., reason: _Optional[str] = ..., operator: _Optional[str] = ..., flatten: bool = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., scope: _Optional[str] = ...) -> None: ...
