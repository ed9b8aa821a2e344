from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PromotionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROMOTION_STATE_UNSPECIFIED: _ClassVar[PromotionState]
    PROMOTION_STATE_PENDING: _ClassVar[PromotionState]
    PROMOTION_STATE_APPLIED: _ClassVar[PromotionState]
    PROMOTION_STATE_REJECTED: _ClassVar[PromotionState]
    PROMOTION_STATE_SUPERSEDED: _ClassVar[PromotionState]
    PROMOTION_STATE_EXPIRED: _ClassVar[PromotionState]
    PROMOTION_STATE_CANCELLED: _ClassVar[PromotionState]
PROMOTION_STATE_UNSPECIFIED: PromotionState
PROMOTION_STATE_PENDING: PromotionState
PROMOTION_STATE_APPLIED: PromotionState
PROMOTION_STATE_REJECTED: PromotionState
PROMOTION_STATE_SUPERSEDED: PromotionState
PROMOTION_STATE_EXPIRED: PromotionState
PROMOTION_STATE_CANCELLED: PromotionState

class MetricThresholdGate(_message.Message):
    __slots__ = ("metric", "op", "value")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    OP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    metric: str
    op: str
    value: float
    def __init__(self, metric: _Optional[str] = ..., op: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...

class BeatMetric(_message.Message):
    __slots__ = ("metric", "greater_is_better", "min_absolute_change", "min_relative_change")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    GREATER_IS_BETTER_FIELD_NUMBER: _ClassVar[int]
    MIN_ABSOLUTE_CHANGE_FIELD_NUMBER: _ClassVar[int]
    MIN_RELATIVE_CHANGE_FIELD_NUMBER: _ClassVar[int]
    metric: str
    greater_is_better: bool
    min_absolute_change: float
    min_relative_change: float
    def __init__(self, metric: _Optional[str] = ..., greater_is_better: bool = ..., min_absolute_change: _Optional[float] = ..., min_relative_change: _Optional[float] = ...) -> None: ...

class BeatBoundGate(_message.Message):
    __slots__ = ("reference_binding", "metrics")
    REFERENCE_BINDING_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    reference_binding: str
    metrics: _containers.RepeatedCompositeFieldContainer[BeatMetric]
    def __init__(self, reference_binding: _Optional[str] = ..., metrics: _Optional[_Iterable[_Union[BeatMetric, _Mapping]]] = ...) -> None: ...

class ApprovalsGate(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class SoakGate(_message.Message):
    __slots__ = ("binding", "seconds")
    BINDING_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    binding: str
    seconds: int
    def __init__(self, binding: _Optional[str] = ..., seconds: _Optional[int] = ...) -> None: ...

class RequiredTagsGate(_message.Message):
    __slots__ = ("tags",)
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TAGS_FIELD_NUMBER: _ClassVar[int]
    tags: _containers.ScalarMap[str, str]
    def __init__(self, tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RequiredLineageGate(_message.Message):
    __slots__ = ("datasets", "code_ref")
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    CODE_REF_FIELD_NUMBER: _ClassVar[int]
    datasets: bool
    code_ref: bool
    def __init__(self, datasets: bool = ..., code_ref: bool = ...) -> None: ...

class Gate(_message.Message):
    __slots__ = ("metric_threshold", "beat_bound", "approvals", "soak", "required_tags", "required_lineage")
    METRIC_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    BEAT_BOUND_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    SOAK_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_TAGS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_LINEAGE_FIELD_NUMBER: _ClassVar[int]
    metric_threshold: MetricThresholdGate
    beat_bound: BeatBoundGate
    approvals: ApprovalsGate
    soak: SoakGate
    required_tags: RequiredTagsGate
    required_lineage: RequiredLineageGate
    def __init__(self, metric_threshold: _Optional[_Union[MetricThresholdGate, _Mapping]] = ..., beat_bound: _Optional[_Union[BeatBoundGate, _Mapping]] = ..., approvals: _Optional[_Union[ApprovalsGate, _Mapping]] = ..., soak: _Optional[_Union[SoakGate, _Mapping]] = ..., required_tags: _Optional[_Union[RequiredTagsGate, _Mapping]] = ..., required_lineage: _Optional[_Union[RequiredLineageGate, _Mapping]] = ...) -> None: ...

class PromotionPolicy(_message.Message):
    __slots__ = ("binding", "scope", "gates", "updated_at", "updated_by")
    BINDING_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    GATES_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    binding: str
    scope: str
    gates: _containers.RepeatedCompositeFieldContainer[Gate]
    updated_at: _timestamp_pb2.Timestamp
    updated_by: str
    def __init__(self, binding: _Optional[str] = ..., scope: _Optional[str] = ..., gates: _Optional[_Iterable[_Union[Gate, _Mapping]]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ...) -> None: ...

class SetPromotionPolicyRequest(_message.Message):
    __slots__ = ("binding", "scope", "gates")
    BINDING_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    GATES_FIELD_NUMBER: _ClassVar[int]
    binding: str
    scope: str
    gates: _containers.RepeatedCompositeFieldContainer[Gate]
    def __init__(self, binding: _Optional[str] = ..., scope: _Optional[str] = ..., gates: _Optional[_Iterable[_Union[Gate, _Mapping]]] = ...) -> None: ...

class SetPromotionPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: PromotionPolicy
    def __init__(self, policy: _Optional[_Union[PromotionPolicy, _Mapping]] = ...) -> None: ...

class GetPromotionPolicyRequest(_message.Message):
    __slots__ = ("binding", "scope", "model_name")
    BINDING_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    binding: str
    scope: str
    model_name: str
    def __init__(self, binding: _Optional[str] = ..., scope: _Optional[str] = ..., model_name: _Optional[str] = ...) -> None: ...

class GetPromotionPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: PromotionPolicy
    def __init__(self, policy: _Optional[_Union[PromotionPolicy, _Mapping]] = ...) -> None: ...

class DeletePromotionPolicyRequest(_message.Message):
    __slots__ = ("binding", "scope")
    BINDING_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    binding: str
    scope: str
    def __init__(self, binding: _Optional[str] = ..., scope: _Optional[str] = ...) -> None: ...

class DeletePromotionPolicyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPromotionPoliciesRequest(_message.Message):
    __slots__ = ("binding",)
    BINDING_FIELD_NUMBER: _ClassVar[int]
    binding: str
    def __init__(self, binding: _Optional[str] = ...) -> None: ...

class ListPromotionPoliciesResponse(_message.Message):
    __slots__ = ("policies",)
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    policies: _containers.RepeatedCompositeFieldContainer[PromotionPolicy]
    def __init__(self, policies: _Optional[_Iterable[_Union[PromotionPolicy, _Mapping]]] = ...) -> None: ...

class GateResult(_message.Message):
    __slots__ = ("gate", "passed", "detail", "awaits_approval")
    GATE_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    AWAITS_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    gate: Gate
    passed: bool
    detail: str
    awaits_approval: bool
    def __init__(self, gate: _Optional[_Union[Gate, _Mapping]] = ..., passed: bool = ..., detail: _Optional[str] = ..., awaits_approval: bool = ...) -> None: ...

class Approval(_message.Message):
    __slots__ = ("principal", "time", "comment")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    principal: str
    time: _timestamp_pb2.Timestamp
    comment: str
    def __init__(self, principal: _Optional[str] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., comment: _Optional[str] = ...) -> None: ...

class PromotionRequest(_message.Message):
    __slots__ = ("id", "model_name", "binding", "version", "reason", "requested_by", "created_at", "expires_at", "expected_generation", "state", "approvals", "decided_by", "decided_at", "comment", "gates", "applied_revision")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_GENERATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    GATES_FIELD_NUMBER: _ClassVar[int]
    APPLIED_REVISION_FIELD_NUMBER: _ClassVar[int]
    id: int
    model_name: str
    binding: str
    version: int
    reason: str
    requested_by: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    expected_generation: int
    state: PromotionState
    approvals: _containers.RepeatedCompositeFieldContainer[Approval]
    decided_by: str
    decided_at: _timestamp_pb2.Timestamp
    comment: str
    gates: _containers.RepeatedCompositeFieldContainer[GateResult]
    applied_revision: int
    def __init__(self, id: _Optional[int] = ..., model_name: _Optional[str] = ..., binding: _Optional[str] = ..., version: _Optional[int] = ..., reason: _Optional[str] = ..., requested_by: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., expected_generation: _Optional[int] = ..., state: _Optional[_Union[PromotionState, str]] = ..., approvals: _Optional[_Iterable[_Union[Approval, _Mapping]]] = ..., decided_by: _Optional[str] = ..., decided_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., comment: _Optional[str] = ..., gates: _Optional[_Iterable[_Union[GateResult, _Mapping]]] = ..., applied_revision: _Optional[int] = ...) -> None: ...

class RequestPromotionRequest(_message.Message):
    __slots__ = ("model_name", "binding", "version", "reason", "expected_generation")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_GENERATION_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    binding: str
    version: int
    reason: str
    expected_generation: int
    def __init__(self, model_name: _Optional[str] = ..., binding: _Optional[str] = ..., version: _Optional[int] = ..., reason: _Optional[str] = ..., expected_generation: _Optional[int] = ...) -> None: ...

class PromotionResponse(_message.Message):
    __slots__ = ("request", "applied", "revision")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    request: PromotionRequest
    applied: bool
    revision: int
    def __init__(self, request: _Optional[_Union[PromotionRequest, _Mapping]] = ..., applied: bool = ..., revision: _Optional[int] = ...) -> None: ...

class ApprovePromotionRequest(_message.Message):
    __slots__ = ("id", "comment")
    ID_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    id: int
    comment: str
    def __init__(self, id: _Optional[int] = ..., comment: _Optional[str] = ...) -> None: ...

class RejectPromotionRequest(_message.Message):
    __slots__ = ("id", "comment")
    ID_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    id: int
    comment: str
    def __init__(self, id: _Optional[int] = ..., comment: _Optional[str] = ...) -> None: ...

class CancelPromotionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class EvaluatePromotionRequest(_message.Message):
    __slots__ = ("model_name", "binding", "version")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    binding: str
    version: int
    def __init__(self, model_name: _Optional[str] = ..., binding: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class EvaluatePromotionResponse(_message.Message):
    __slots__ = ("gated", "policy", "gates", "passes", "needs_approval")
    GATED_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    GATES_FIELD_NUMBER: _ClassVar[int]
    PASSES_FIELD_NUMBER: _ClassVar[int]
    NEEDS_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    gated: bool
    policy: PromotionPolicy
    gates: _containers.RepeatedCompositeFieldContainer[GateResult]
    passes: bool
    needs_approval: bool
    def __init__(self, gated: bool = ..., policy: _Optional[_Union[PromotionPolicy, _Mapping]] = ..., gates: _Optional[_Iterable[_Union[GateResult, _Mapping]]] = ..., passes: bool = ..., needs_approval: bool = ...) -> None: ...

class GetPromotionRequestRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class ListPromotionRequestsRequest(_message.Message):
    __slots__ = ("model_name", "binding", "state", "page_size", "page_token")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    binding: str
    state: PromotionState
    page_size: int
    page_token: str
    def __init__(self, model_name: _Optional[str] = ..., binding: _Optional[str] = ..., state: _Optional[_Union[PromotionState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPromotionRequestsResponse(_message.Message):
    __slots__ = ("requests", "next_page_token")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[PromotionRequest]
    next_page_token: str
    def __init__(self, requests: _Optional[_Iterable[_Union[PromotionRequest, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
