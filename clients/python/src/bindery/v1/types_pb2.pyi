from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VersionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERSION_STATUS_UNSPECIFIED: _ClassVar[VersionStatus]
    VERSION_STATUS_READY: _ClassVar[VersionStatus]
    VERSION_STATUS_ARCHIVED: _ClassVar[VersionStatus]
    VERSION_STATUS_DELETED: _ClassVar[VersionStatus]

class BindingAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BINDING_ACTION_UNSPECIFIED: _ClassVar[BindingAction]
    BINDING_ACTION_SET: _ClassVar[BindingAction]
    BINDING_ACTION_DELETE: _ClassVar[BindingAction]
    BINDING_ACTION_ROLLBACK: _ClassVar[BindingAction]
VERSION_STATUS_UNSPECIFIED: VersionStatus
VERSION_STATUS_READY: VersionStatus
VERSION_STATUS_ARCHIVED: VersionStatus
VERSION_STATUS_DELETED: VersionStatus
BINDING_ACTION_UNSPECIFIED: BindingAction
BINDING_ACTION_SET: BindingAction
BINDING_ACTION_DELETE: BindingAction
BINDING_ACTION_ROLLBACK: BindingAction

class Model(_message.Message):
    __slots__ = ("name", "description", "owner", "tags", "created_at", "updated_at", "latest_version", "created_by", "updated_by", "revision")
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
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    LATEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    owner: str
    tags: _containers.ScalarMap[str, str]
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    latest_version: int
    created_by: str
    updated_by: str
    revision: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., owner: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., latest_version: _Optional[int] = ..., created_by: _Optional[str] = ..., updated_by: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class Artifact(_message.Message):
    __slots__ = ("uri", "sha256", "size_bytes", "format", "etag", "last_modified", "verified", "sha256_verified", "files")
    URI_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    SHA256_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    uri: str
    sha256: str
    size_bytes: int
    format: str
    etag: str
    last_modified: _timestamp_pb2.Timestamp
    verified: bool
    sha256_verified: bool
    files: _containers.RepeatedCompositeFieldContainer[ArtifactFile]
    def __init__(self, uri: _Optional[str] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., format: _Optional[str] = ..., etag: _Optional[str] = ..., last_modified: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., verified: bool = ..., sha256_verified: bool = ..., files: _Optional[_Iterable[_Union[ArtifactFile, _Mapping]]] = ...) -> None: ...

class ArtifactFile(_message.Message):
    __slots__ = ("path", "size_bytes", "etag", "sha256")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    path: str
    size_bytes: int
    etag: str
    sha256: str
    def __init__(self, path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., etag: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...

class PresignedRequest(_message.Message):
    __slots__ = ("method", "url", "headers", "expires_at")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METHOD_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    method: str
    url: str
    headers: _containers.ScalarMap[str, str]
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, method: _Optional[str] = ..., url: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DownloadUrl(_message.Message):
    __slots__ = ("path", "size_bytes", "sha256", "request")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    path: str
    size_bytes: int
    sha256: str
    request: PresignedRequest
    def __init__(self, path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., request: _Optional[_Union[PresignedRequest, _Mapping]] = ...) -> None: ...

class DatasetRef(_message.Message):
    __slots__ = ("uri", "version")
    URI_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    uri: str
    version: str
    def __init__(self, uri: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class VersionRef(_message.Message):
    __slots__ = ("model_name", "version")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class Lineage(_message.Message):
    __slots__ = ("training_run_id", "code_ref", "datasets", "parent_versions", "environment")
    class EnvironmentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRAINING_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_REF_FIELD_NUMBER: _ClassVar[int]
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    PARENT_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    training_run_id: str
    code_ref: str
    datasets: _containers.RepeatedCompositeFieldContainer[DatasetRef]
    parent_versions: _containers.RepeatedCompositeFieldContainer[VersionRef]
    environment: _containers.ScalarMap[str, str]
    def __init__(self, training_run_id: _Optional[str] = ..., code_ref: _Optional[str] = ..., datasets: _Optional[_Iterable[_Union[DatasetRef, _Mapping]]] = ..., parent_versions: _Optional[_Iterable[_Union[VersionRef, _Mapping]]] = ..., environment: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Signature(_message.Message):
    __slots__ = ("inputs_json", "outputs_json")
    INPUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    inputs_json: str
    outputs_json: str
    def __init__(self, inputs_json: _Optional[str] = ..., outputs_json: _Optional[str] = ...) -> None: ...

class ModelVersion(_message.Message):
    __slots__ = ("model_name", "version", "status", "artifact", "params", "metrics", "tags", "lineage", "signature", "description", "created_at", "created_by", "bindings", "updated_at", "updated_by", "request_id", "revision", "deployment")
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
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    BINDINGS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    status: VersionStatus
    artifact: Artifact
    params: _containers.ScalarMap[str, str]
    metrics: _containers.ScalarMap[str, float]
    tags: _containers.ScalarMap[str, str]
    lineage: Lineage
    signature: Signature
    description: str
    created_at: _timestamp_pb2.Timestamp
    created_by: str
    bindings: _containers.RepeatedScalarFieldContainer[str]
    updated_at: _timestamp_pb2.Timestamp
    updated_by: str
    request_id: str
    revision: int
    deployment: DeploymentSpec
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ..., status: _Optional[_Union[VersionStatus, str]] = ..., artifact: _Optional[_Union[Artifact, _Mapping]] = ..., params: _Optional[_Mapping[str, str]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., tags: _Optional[_Mapping[str, str]] = ..., lineage: _Optional[_Union[Lineage, _Mapping]] = ..., signature: _Optional[_Union[Signature, _Mapping]] = ..., description: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., bindings: _Optional[_Iterable[str]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ..., request_id: _Optional[str] = ..., revision: _Optional[int] = ..., deployment: _Optional[_Union[DeploymentSpec, _Mapping]] = ...) -> None: ...

class DeploymentSpec(_message.Message):
    __slots__ = ("runtime", "image", "cpu", "memory", "gpu", "env", "min_replicas", "max_replicas", "config_json")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    MIN_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    MAX_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    runtime: str
    image: str
    cpu: str
    memory: str
    gpu: int
    env: _containers.ScalarMap[str, str]
    min_replicas: int
    max_replicas: int
    config_json: str
    def __init__(self, runtime: _Optional[str] = ..., image: _Optional[str] = ..., cpu: _Optional[str] = ..., memory: _Optional[str] = ..., gpu: _Optional[int] = ..., env: _Optional[_Mapping[str, str]] = ..., min_replicas: _Optional[int] = ..., max_replicas: _Optional[int] = ..., config_json: _Optional[str] = ...) -> None: ...

class Binding(_message.Message):
    __slots__ = ("model_name", "name", "version", "generation", "updated_at", "updated_by", "revision", "traffic")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    name: str
    version: int
    generation: int
    updated_at: _timestamp_pb2.Timestamp
    updated_by: str
    revision: int
    traffic: Traffic
    def __init__(self, model_name: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., generation: _Optional[int] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ..., revision: _Optional[int] = ..., traffic: _Optional[_Union[Traffic, _Mapping]] = ...) -> None: ...

class Traffic(_message.Message):
    __slots__ = ("sides", "shadows", "deployment_override")
    SIDES_FIELD_NUMBER: _ClassVar[int]
    SHADOWS_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    sides: _containers.RepeatedCompositeFieldContainer[TrafficSide]
    shadows: _containers.RepeatedCompositeFieldContainer[TrafficShadow]
    deployment_override: DeploymentSpec
    def __init__(self, sides: _Optional[_Iterable[_Union[TrafficSide, _Mapping]]] = ..., shadows: _Optional[_Iterable[_Union[TrafficShadow, _Mapping]]] = ..., deployment_override: _Optional[_Union[DeploymentSpec, _Mapping]] = ...) -> None: ...

class TrafficSide(_message.Message):
    __slots__ = ("version", "weight", "role", "buckets")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    version: int
    weight: int
    role: str
    buckets: _containers.RepeatedCompositeFieldContainer[BucketRange]
    def __init__(self, version: _Optional[int] = ..., weight: _Optional[int] = ..., role: _Optional[str] = ..., buckets: _Optional[_Iterable[_Union[BucketRange, _Mapping]]] = ...) -> None: ...

class BucketRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class TrafficShadow(_message.Message):
    __slots__ = ("version", "mirror")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MIRROR_FIELD_NUMBER: _ClassVar[int]
    version: int
    mirror: int
    def __init__(self, version: _Optional[int] = ..., mirror: _Optional[int] = ...) -> None: ...

class BindingHistoryEntry(_message.Message):
    __slots__ = ("model_name", "binding", "generation", "action", "before_version", "after_version", "revision", "actor", "reason", "time", "before_traffic", "after_traffic")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    BEFORE_VERSION_FIELD_NUMBER: _ClassVar[int]
    AFTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    BEFORE_TRAFFIC_FIELD_NUMBER: _ClassVar[int]
    AFTER_TRAFFIC_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    binding: str
    generation: int
    action: BindingAction
    before_version: int
    after_version: int
    revision: int
    actor: str
    reason: str
    time: _timestamp_pb2.Timestamp
    before_traffic: Traffic
    after_traffic: Traffic
    def __init__(self, model_name: _Optional[str] = ..., binding: _Optional[str] = ..., generation: _Optional[int] = ..., action: _Optional[_Union[BindingAction, str]] = ..., before_version: _Optional[int] = ..., after_version: _Optional[int] = ..., revision: _Optional[int] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., before_traffic: _Optional[_Union[Traffic, _Mapping]] = ..., after_traffic: _Optional[_Union[Traffic, _Mapping]] = ...) -> None: ...
