from bindery.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LineageDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINEAGE_DIRECTION_UNSPECIFIED: _ClassVar[LineageDirection]
    LINEAGE_DIRECTION_UPSTREAM: _ClassVar[LineageDirection]
    LINEAGE_DIRECTION_DOWNSTREAM: _ClassVar[LineageDirection]
    LINEAGE_DIRECTION_BOTH: _ClassVar[LineageDirection]
LINEAGE_DIRECTION_UNSPECIFIED: LineageDirection
LINEAGE_DIRECTION_UPSTREAM: LineageDirection
LINEAGE_DIRECTION_DOWNSTREAM: LineageDirection
LINEAGE_DIRECTION_BOTH: LineageDirection

class GetLineageRequest(_message.Message):
    __slots__ = ("model_name", "version", "direction", "depth")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    direction: LineageDirection
    depth: int
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ..., direction: _Optional[_Union[LineageDirection, str]] = ..., depth: _Optional[int] = ...) -> None: ...

class LineageNode(_message.Message):
    __slots__ = ("model_name", "version", "status", "bindings", "distance")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BINDINGS_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    status: _types_pb2.VersionStatus
    bindings: _containers.RepeatedScalarFieldContainer[str]
    distance: int
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ..., status: _Optional[_Union[_types_pb2.VersionStatus, str]] = ..., bindings: _Optional[_Iterable[str]] = ..., distance: _Optional[int] = ...) -> None: ...

class LineageEdge(_message.Message):
    __slots__ = ("parent", "child")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    CHILD_FIELD_NUMBER: _ClassVar[int]
    parent: _types_pb2.VersionRef
    child: _types_pb2.VersionRef
    def __init__(self, parent: _Optional[_Union[_types_pb2.VersionRef, _Mapping]] = ..., child: _Optional[_Union[_types_pb2.VersionRef, _Mapping]] = ...) -> None: ...

class LineageDataset(_message.Message):
    __slots__ = ("uri", "version", "shared_with")
    URI_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SHARED_WITH_FIELD_NUMBER: _ClassVar[int]
    uri: str
    version: str
    shared_with: _containers.RepeatedCompositeFieldContainer[_types_pb2.VersionRef]
    def __init__(self, uri: _Optional[str] = ..., version: _Optional[str] = ..., shared_with: _Optional[_Iterable[_Union[_types_pb2.VersionRef, _Mapping]]] = ...) -> None: ...

class GetLineageResponse(_message.Message):
    __slots__ = ("nodes", "edges", "datasets", "truncated")
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[LineageNode]
    edges: _containers.RepeatedCompositeFieldContainer[LineageEdge]
    datasets: _containers.RepeatedCompositeFieldContainer[LineageDataset]
    truncated: bool
    def __init__(self, nodes: _Optional[_Iterable[_Union[LineageNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[LineageEdge, _Mapping]]] = ..., datasets: _Optional[_Iterable[_Union[LineageDataset, _Mapping]]] = ..., truncated: bool = ...) -> None: ...

class CopyVersionRequest(_message.Message):
    __slots__ = ("source_model_name", "source_version", "target_model_name", "request_id", "description")
    SOURCE_MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    TARGET_MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    source_model_name: str
    source_version: int
    target_model_name: str
    request_id: str
    description: str
    def __init__(self, source_model_name: _Optional[str] = ..., source_version: _Optional[int] = ..., target_model_name: _Optional[str] = ..., request_id: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...
