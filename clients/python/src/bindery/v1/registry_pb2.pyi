from bindery.v1 import access_pb2 as _access_pb2
from bindery.v1 import annotations_pb2 as _annotations_pb2
from bindery.v1 import lineage_pb2 as _lineage_pb2
from bindery.v1 import promotion_pb2 as _promotion_pb2
from bindery.v1 import rollout_pb2 as _rollout_pb2
from bindery.v1 import types_pb2 as _types_pb2
from bindery.v1 import webhook_pb2 as _webhook_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateModelRequest(_message.Message):
    __slots__ = ("name", "description", "owner", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    owner: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., owner: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter", "order_by")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: str
    order_by: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[_types_pb2.Model]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[_types_pb2.Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateModelRequest(_message.Message):
    __slots__ = ("name", "description", "owner", "set_tags", "remove_tags")
    class SetTagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SET_TAGS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    owner: str
    set_tags: _containers.ScalarMap[str, str]
    remove_tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., owner: _Optional[str] = ..., set_tags: _Optional[_Mapping[str, str]] = ..., remove_tags: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteModelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteModelResponse(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class RegisterVersionRequest(_message.Message):
    __slots__ = ("model_name", "request_id", "artifact", "params", "metrics", "tags", "lineage", "signature", "description", "upload_session_id", "deployment")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    request_id: str
    artifact: _types_pb2.Artifact
    params: _containers.ScalarMap[str, str]
    metrics: _containers.ScalarMap[str, float]
    tags: _containers.ScalarMap[str, str]
    lineage: _types_pb2.Lineage
    signature: _types_pb2.Signature
    description: str
    upload_session_id: str
    deployment: _types_pb2.DeploymentSpec
    def __init__(self, model_name: _Optional[str] = ..., request_id: _Optional[str] = ..., artifact: _Optional[_Union[_types_pb2.Artifact, _Mapping]] = ..., params: _Optional[_Mapping[str, str]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., tags: _Optional[_Mapping[str, str]] = ..., lineage: _Optional[_Union[_types_pb2.Lineage, _Mapping]] = ..., signature: _Optional[_Union[_types_pb2.Signature, _Mapping]] = ..., description: _Optional[str] = ..., upload_session_id: _Optional[str] = ..., deployment: _Optional[_Union[_types_pb2.DeploymentSpec, _Mapping]] = ...) -> None: ...

class RegisterVersionResponse(_message.Message):
    __slots__ = ("version", "revision", "created")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    version: _types_pb2.ModelVersion
    revision: int
    created: bool
    def __init__(self, version: _Optional[_Union[_types_pb2.ModelVersion, _Mapping]] = ..., revision: _Optional[int] = ..., created: bool = ...) -> None: ...

class GetVersionRequest(_message.Message):
    __slots__ = ("model_name", "version", "binding")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    binding: str
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ..., binding: _Optional[str] = ...) -> None: ...

class ListVersionsRequest(_message.Message):
    __slots__ = ("model_name", "page_size", "page_token", "filter", "order_by")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    page_size: int
    page_token: str
    filter: str
    order_by: str
    def __init__(self, model_name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ..., order_by: _Optional[str] = ...) -> None: ...

class ListVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[_types_pb2.ModelVersion]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[_types_pb2.ModelVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateVersionRequest(_message.Message):
    __slots__ = ("model_name", "version", "description", "set_tags", "remove_tags", "add_metrics")
    class SetTagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class AddMetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SET_TAGS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_TAGS_FIELD_NUMBER: _ClassVar[int]
    ADD_METRICS_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    description: str
    set_tags: _containers.ScalarMap[str, str]
    remove_tags: _containers.RepeatedScalarFieldContainer[str]
    add_metrics: _containers.ScalarMap[str, float]
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ..., description: _Optional[str] = ..., set_tags: _Optional[_Mapping[str, str]] = ..., remove_tags: _Optional[_Iterable[str]] = ..., add_metrics: _Optional[_Mapping[str, float]] = ...) -> None: ...

class ArchiveVersionRequest(_message.Message):
    __slots__ = ("model_name", "version")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class SetBindingRequest(_message.Message):
    __slots__ = ("model_name", "binding", "version", "expected_generation", "reason", "traffic", "deployment_override")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_GENERATION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    binding: str
    version: int
    expected_generation: int
    reason: str
    traffic: _types_pb2.Traffic
    deployment_override: _types_pb2.DeploymentSpec
    def __init__(self, model_name: _Optional[str] = ..., binding: _Optional[str] = ..., version: _Optional[int] = ..., expected_generation: _Optional[int] = ..., reason: _Optional[str] = ..., traffic: _Optional[_Union[_types_pb2.Traffic, _Mapping]] = ..., deployment_override: _Optional[_Union[_types_pb2.DeploymentSpec, _Mapping]] = ...) -> None: ...

class SetBindingResponse(_message.Message):
    __slots__ = ("binding", "revision")
    BINDING_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    binding: _types_pb2.Binding
    revision: int
    def __init__(self, binding: _Optional[_Union[_types_pb2.Binding, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class SetBindingsRequest(_message.Message):
    __slots__ = ("model_name", "bindings", "reason")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BINDINGS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    bindings: _containers.RepeatedCompositeFieldContainer[BindingAssignment]
    reason: str
    def __init__(self, model_name: _Optional[str] = ..., bindings: _Optional[_Iterable[_Union[BindingAssignment, _Mapping]]] = ..., reason: _Optional[str] = ...) -> None: ...

class BindingAssignment(_message.Message):
    __slots__ = ("binding", "version", "expected_generation", "traffic", "deployment_override")
    BINDING_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_GENERATION_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    binding: str
    version: int
    expected_generation: int
    traffic: _types_pb2.Traffic
    deployment_override: _types_pb2.DeploymentSpec
    def __init__(self, binding: _Optional[str] = ..., version: _Optional[int] = ..., expected_generation: _Optional[int] = ..., traffic: _Optional[_Union[_types_pb2.Traffic, _Mapping]] = ..., deployment_override: _Optional[_Union[_types_pb2.DeploymentSpec, _Mapping]] = ...) -> None: ...

class SetBindingsResponse(_message.Message):
    __slots__ = ("bindings", "revision")
    BINDINGS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    bindings: _containers.RepeatedCompositeFieldContainer[_types_pb2.Binding]
    revision: int
    def __init__(self, bindings: _Optional[_Iterable[_Union[_types_pb2.Binding, _Mapping]]] = ..., revision: _Optional[int] = ...) -> None: ...

class DeleteBindingRequest(_message.Message):
    __slots__ = ("model_name", "binding", "expected_generation", "reason")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_GENERATION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    binding: str
    expected_generation: int
    reason: str
    def __init__(self, model_name: _Optional[str] = ..., binding: _Optional[str] = ..., expected_generation: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class DeleteBindingResponse(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class ListBindingsRequest(_message.Message):
    __slots__ = ("model_name",)
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    def __init__(self, model_name: _Optional[str] = ...) -> None: ...

class ListBindingsResponse(_message.Message):
    __slots__ = ("bindings",)
    BINDINGS_FIELD_NUMBER: _ClassVar[int]
    bindings: _containers.RepeatedCompositeFieldContainer[_types_pb2.Binding]
    def __init__(self, bindings: _Optional[_Iterable[_Union[_types_pb2.Binding, _Mapping]]] = ...) -> None: ...

class ListBindingHistoryRequest(_message.Message):
    __slots__ = ("model_name", "binding", "page_size", "page_token")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    binding: str
    page_size: int
    page_token: str
    def __init__(self, model_name: _Optional[str] = ..., binding: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBindingHistoryResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_types_pb2.BindingHistoryEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[_types_pb2.BindingHistoryEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RollbackBindingRequest(_message.Message):
    __slots__ = ("model_name", "binding", "to_generation", "expected_generation", "reason")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    TO_GENERATION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_GENERATION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    binding: str
    to_generation: int
    expected_generation: int
    reason: str
    def __init__(self, model_name: _Optional[str] = ..., binding: _Optional[str] = ..., to_generation: _Optional[int] = ..., expected_generation: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class DeleteVersionRequest(_message.Message):
    __slots__ = ("model_name", "version")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class DeleteVersionResponse(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class UploadFileSpec(_message.Message):
    __slots__ = ("path", "size_bytes", "sha256")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    path: str
    size_bytes: int
    sha256: str
    def __init__(self, path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class CreateUploadSessionRequest(_message.Message):
    __slots__ = ("model_name", "files")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    files: _containers.RepeatedCompositeFieldContainer[UploadFileSpec]
    def __init__(self, model_name: _Optional[str] = ..., files: _Optional[_Iterable[_Union[UploadFileSpec, _Mapping]]] = ...) -> None: ...

class UploadSession(_message.Message):
    __slots__ = ("id", "model_name", "uri", "expires_at", "files")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    id: str
    model_name: str
    uri: str
    expires_at: _timestamp_pb2.Timestamp
    files: _containers.RepeatedCompositeFieldContainer[FileUpload]
    def __init__(self, id: _Optional[str] = ..., model_name: _Optional[str] = ..., uri: _Optional[str] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., files: _Optional[_Iterable[_Union[FileUpload, _Mapping]]] = ...) -> None: ...

class FileUpload(_message.Message):
    __slots__ = ("path", "size_bytes", "put", "parts")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PUT_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    path: str
    size_bytes: int
    put: _types_pb2.PresignedRequest
    parts: _containers.RepeatedCompositeFieldContainer[UploadPart]
    def __init__(self, path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., put: _Optional[_Union[_types_pb2.PresignedRequest, _Mapping]] = ..., parts: _Optional[_Iterable[_Union[UploadPart, _Mapping]]] = ...) -> None: ...

class UploadPart(_message.Message):
    __slots__ = ("part_number", "offset", "size_bytes", "put")
    PART_NUMBER_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PUT_FIELD_NUMBER: _ClassVar[int]
    part_number: int
    offset: int
    size_bytes: int
    put: _types_pb2.PresignedRequest
    def __init__(self, part_number: _Optional[int] = ..., offset: _Optional[int] = ..., size_bytes: _Optional[int] = ..., put: _Optional[_Union[_types_pb2.PresignedRequest, _Mapping]] = ...) -> None: ...

class GetDownloadUrlsRequest(_message.Message):
    __slots__ = ("model_name", "version", "page_size", "page_token")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    page_size: int
    page_token: str
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetDownloadUrlsResponse(_message.Message):
    __slots__ = ("files", "next_page_token")
    FILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[_types_pb2.DownloadUrl]
    next_page_token: str
    def __init__(self, files: _Optional[_Iterable[_Union[_types_pb2.DownloadUrl, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
