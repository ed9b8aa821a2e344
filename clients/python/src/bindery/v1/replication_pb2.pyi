from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReplicationEntry(_message.Message):
    __slots__ = ("revision", "kind", "model", "payload")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    revision: int
    kind: str
    model: str
    payload: bytes
    def __init__(self, revision: _Optional[int] = ..., kind: _Optional[str] = ..., model: _Optional[str] = ..., payload: _Optional[bytes] = ...) -> None: ...

class GetSnapshotRequest(_message.Message):
    __slots__ = ("packed",)
    PACKED_FIELD_NUMBER: _ClassVar[int]
    packed: bool
    def __init__(self, packed: bool = ...) -> None: ...

class SnapshotChunk(_message.Message):
    __slots__ = ("revision", "models", "entries", "last", "part")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    revision: int
    models: _containers.RepeatedScalarFieldContainer[str]
    entries: _containers.RepeatedCompositeFieldContainer[ReplicationEntry]
    last: bool
    part: bytes
    def __init__(self, revision: _Optional[int] = ..., models: _Optional[_Iterable[str]] = ..., entries: _Optional[_Iterable[_Union[ReplicationEntry, _Mapping]]] = ..., last: bool = ..., part: _Optional[bytes] = ...) -> None: ...

class GetChangesRequest(_message.Message):
    __slots__ = ("after_revision", "limit")
    AFTER_REVISION_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    after_revision: int
    limit: int
    def __init__(self, after_revision: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class GetChangesResponse(_message.Message):
    __slots__ = ("changes", "revision", "pruned")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    PRUNED_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[ReplicationEntry]
    revision: int
    pruned: bool
    def __init__(self, changes: _Optional[_Iterable[_Union[ReplicationEntry, _Mapping]]] = ..., revision: _Optional[int] = ..., pruned: bool = ...) -> None: ...

class FollowRevisionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FollowRevisionsResponse(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...
