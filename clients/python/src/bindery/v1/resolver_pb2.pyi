from bindery.v1 import types_pb2 as _types_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResolveRequest(_message.Message):
    __slots__ = ("model_name", "binding", "min_revision", "presign", "routing_key")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    MIN_REVISION_FIELD_NUMBER: _ClassVar[int]
    PRESIGN_FIELD_NUMBER: _ClassVar[int]
    ROUTING_KEY_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    binding: str
    min_revision: int
    presign: bool
    routing_key: str
    def __init__(self, model_name: _Optional[str] = ..., binding: _Optional[str] = ..., min_revision: _Optional[int] = ..., presign: bool = ..., routing_key: _Optional[str] = ...) -> None: ...

class ResolveResponse(_message.Message):
    __slots__ = ("model_name", "binding", "version", "artifact_uri", "sha256", "size_bytes", "generation", "revision", "artifact_format", "download_urls", "role", "sides", "shadows", "bucket", "deployment")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_URI_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    DOWNLOAD_URLS_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SIDES_FIELD_NUMBER: _ClassVar[int]
    SHADOWS_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    binding: str
    version: int
    artifact_uri: str
    sha256: str
    size_bytes: int
    generation: int
    revision: int
    artifact_format: str
    download_urls: _containers.RepeatedCompositeFieldContainer[_types_pb2.DownloadUrl]
    role: str
    sides: _containers.RepeatedCompositeFieldContainer[ResolvedMember]
    shadows: _containers.RepeatedCompositeFieldContainer[ResolvedMember]
    bucket: int
    deployment: _types_pb2.DeploymentSpec
    def __init__(self, model_name: _Optional[str] = ..., binding: _Optional[str] = ..., version: _Optional[int] = ..., artifact_uri: _Optional[str] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., generation: _Optional[int] = ..., revision: _Optional[int] = ..., artifact_format: _Optional[str] = ..., download_urls: _Optional[_Iterable[_Union[_types_pb2.DownloadUrl, _Mapping]]] = ..., role: _Optional[str] = ..., sides: _Optional[_Iterable[_Union[ResolvedMember, _Mapping]]] = ..., shadows: _Optional[_Iterable[_Union[ResolvedMember, _Mapping]]] = ..., bucket: _Optional[int] = ..., deployment: _Optional[_Union[_types_pb2.DeploymentSpec, _Mapping]] = ...) -> None: ...

class ResolvedMember(_message.Message):
    __slots__ = ("version", "role", "weight", "mirror", "artifact_uri", "sha256", "size_bytes", "artifact_format", "buckets", "deployment")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    MIRROR_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_URI_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    version: int
    role: str
    weight: int
    mirror: int
    artifact_uri: str
    sha256: str
    size_bytes: int
    artifact_format: str
    buckets: _containers.RepeatedCompositeFieldContainer[_types_pb2.BucketRange]
    deployment: _types_pb2.DeploymentSpec
    def __init__(self, version: _Optional[int] = ..., role: _Optional[str] = ..., weight: _Optional[int] = ..., mirror: _Optional[int] = ..., artifact_uri: _Optional[str] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., artifact_format: _Optional[str] = ..., buckets: _Optional[_Iterable[_Union[_types_pb2.BucketRange, _Mapping]]] = ..., deployment: _Optional[_Union[_types_pb2.DeploymentSpec, _Mapping]] = ...) -> None: ...

class ResolveManyRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[ResolveRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[ResolveRequest, _Mapping]]] = ...) -> None: ...

class ResolveManyResponse(_message.Message):
    __slots__ = ("results", "revision")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ResolveResult]
    revision: int
    def __init__(self, results: _Optional[_Iterable[_Union[ResolveResult, _Mapping]]] = ..., revision: _Optional[int] = ...) -> None: ...

class ResolveResult(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: ResolveResponse
    error: ResolveError
    def __init__(self, response: _Optional[_Union[ResolveResponse, _Mapping]] = ..., error: _Optional[_Union[ResolveError, _Mapping]] = ...) -> None: ...

class ResolveError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class WatchBindingsRequest(_message.Message):
    __slots__ = ("model_names", "bindings", "since_revision")
    MODEL_NAMES_FIELD_NUMBER: _ClassVar[int]
    BINDINGS_FIELD_NUMBER: _ClassVar[int]
    SINCE_REVISION_FIELD_NUMBER: _ClassVar[int]
    model_names: _containers.RepeatedScalarFieldContainer[str]
    bindings: _containers.RepeatedScalarFieldContainer[str]
    since_revision: int
    def __init__(self, model_names: _Optional[_Iterable[str]] = ..., bindings: _Optional[_Iterable[str]] = ..., since_revision: _Optional[int] = ...) -> None: ...

class WatchBindingsResponse(_message.Message):
    __slots__ = ("revision", "reset", "bindings", "continues")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    BINDINGS_FIELD_NUMBER: _ClassVar[int]
    CONTINUES_FIELD_NUMBER: _ClassVar[int]
    revision: int
    reset: bool
    bindings: _containers.RepeatedCompositeFieldContainer[BindingState]
    continues: bool
    def __init__(self, revision: _Optional[int] = ..., reset: bool = ..., bindings: _Optional[_Iterable[_Union[BindingState, _Mapping]]] = ..., continues: bool = ...) -> None: ...

class BindingState(_message.Message):
    __slots__ = ("model_name", "binding", "generation", "deleted", "version", "artifact_uri", "sha256", "size_bytes", "artifact_format", "sides", "shadows", "deployment")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_URI_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    SIDES_FIELD_NUMBER: _ClassVar[int]
    SHADOWS_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    binding: str
    generation: int
    deleted: bool
    version: int
    artifact_uri: str
    sha256: str
    size_bytes: int
    artifact_format: str
    sides: _containers.RepeatedCompositeFieldContainer[ResolvedMember]
    shadows: _containers.RepeatedCompositeFieldContainer[ResolvedMember]
    deployment: _types_pb2.DeploymentSpec
    def __init__(self, model_name: _Optional[str] = ..., binding: _Optional[str] = ..., generation: _Optional[int] = ..., deleted: bool = ..., version: _Optional[int] = ..., artifact_uri: _Optional[str] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., artifact_format: _Optional[str] = ..., sides: _Optional[_Iterable[_Union[ResolvedMember, _Mapping]]] = ..., shadows: _Optional[_Iterable[_Union[ResolvedMember, _Mapping]]] = ..., deployment: _Optional[_Union[_types_pb2.DeploymentSpec, _Mapping]] = ...) -> None: ...

class GetReaderStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReaderStatus(_message.Message):
    __slots__ = ("applied_revision", "database_revision", "lag", "connected", "last_sync_time", "bindings_cached", "models_cached", "watchers", "serving", "last_error", "notifications", "duplicates_dropped", "gaps_filled", "snapshots_loaded", "reconnects", "stuck_at_revision", "apply_failures", "upstream")
    APPLIED_REVISION_FIELD_NUMBER: _ClassVar[int]
    DATABASE_REVISION_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    LAST_SYNC_TIME_FIELD_NUMBER: _ClassVar[int]
    BINDINGS_CACHED_FIELD_NUMBER: _ClassVar[int]
    MODELS_CACHED_FIELD_NUMBER: _ClassVar[int]
    WATCHERS_FIELD_NUMBER: _ClassVar[int]
    SERVING_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    GAPS_FILLED_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOTS_LOADED_FIELD_NUMBER: _ClassVar[int]
    RECONNECTS_FIELD_NUMBER: _ClassVar[int]
    STUCK_AT_REVISION_FIELD_NUMBER: _ClassVar[int]
    APPLY_FAILURES_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_FIELD_NUMBER: _ClassVar[int]
    applied_revision: int
    database_revision: int
    lag: int
    connected: bool
    last_sync_time: _timestamp_pb2.Timestamp
    bindings_cached: int
    models_cached: int
    watchers: int
    serving: bool
    last_error: str
    notifications: int
    duplicates_dropped: int
    gaps_filled: int
    snapshots_loaded: int
    reconnects: int
    stuck_at_revision: int
    apply_failures: int
    upstream: str
    def __init__(self, applied_revision: _Optional[int] = ..., database_revision: _Optional[int] = ..., lag: _Optional[int] = ..., connected: bool = ..., last_sync_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., bindings_cached: _Optional[int] = ..., models_cached: _Optional[int] = ..., watchers: _Optional[int] = ..., serving: bool = ..., last_error: _Optional[str] = ..., notifications: _Optional[int] = ..., duplicates_dropped: _Optional[int] = ..., gaps_filled: _Optional[int] = ..., snapshots_loaded: _Optional[int] = ..., reconnects: _Optional[int] = ..., stuck_at_revision: _Optional[int] = ..., apply_failures: _Optional[int] = ..., upstream: _Optional[str] = ...) -> None: ...
