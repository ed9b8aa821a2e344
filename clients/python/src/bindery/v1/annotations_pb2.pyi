from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnnotationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANNOTATION_KIND_UNSPECIFIED: _ClassVar[AnnotationKind]
    ANNOTATION_KIND_MODEL_CARD: _ClassVar[AnnotationKind]
    ANNOTATION_KIND_FAIRNESS_REPORT: _ClassVar[AnnotationKind]
    ANNOTATION_KIND_BIAS_AUDIT: _ClassVar[AnnotationKind]
    ANNOTATION_KIND_ARCHITECTURE: _ClassVar[AnnotationKind]
    ANNOTATION_KIND_DOCS: _ClassVar[AnnotationKind]
    ANNOTATION_KIND_OTHER: _ClassVar[AnnotationKind]
ANNOTATION_KIND_UNSPECIFIED: AnnotationKind
ANNOTATION_KIND_MODEL_CARD: AnnotationKind
ANNOTATION_KIND_FAIRNESS_REPORT: AnnotationKind
ANNOTATION_KIND_BIAS_AUDIT: AnnotationKind
ANNOTATION_KIND_ARCHITECTURE: AnnotationKind
ANNOTATION_KIND_DOCS: AnnotationKind
ANNOTATION_KIND_OTHER: AnnotationKind

class Card(_message.Message):
    __slots__ = ("model_name", "version", "markdown", "edition", "updated_by", "updated_at")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MARKDOWN_FIELD_NUMBER: _ClassVar[int]
    EDITION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    markdown: str
    edition: int
    updated_by: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ..., markdown: _Optional[str] = ..., edition: _Optional[int] = ..., updated_by: _Optional[str] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetCardRequest(_message.Message):
    __slots__ = ("model_name", "version", "markdown", "expected_edition")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MARKDOWN_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_EDITION_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    markdown: str
    expected_edition: int
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ..., markdown: _Optional[str] = ..., expected_edition: _Optional[int] = ...) -> None: ...

class GetCardRequest(_message.Message):
    __slots__ = ("model_name", "version")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ListCardHistoryRequest(_message.Message):
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

class ListCardHistoryResponse(_message.Message):
    __slots__ = ("editions", "next_page_token")
    EDITIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    editions: _containers.RepeatedCompositeFieldContainer[Card]
    next_page_token: str
    def __init__(self, editions: _Optional[_Iterable[_Union[Card, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Annotation(_message.Message):
    __slots__ = ("id", "model_name", "version", "kind", "url", "title", "created_by", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: int
    model_name: str
    version: int
    kind: AnnotationKind
    url: str
    title: str
    created_by: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[int] = ..., model_name: _Optional[str] = ..., version: _Optional[int] = ..., kind: _Optional[_Union[AnnotationKind, str]] = ..., url: _Optional[str] = ..., title: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AddAnnotationRequest(_message.Message):
    __slots__ = ("model_name", "version", "kind", "url", "title")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    kind: AnnotationKind
    url: str
    title: str
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ..., kind: _Optional[_Union[AnnotationKind, str]] = ..., url: _Optional[str] = ..., title: _Optional[str] = ...) -> None: ...

class ListAnnotationsRequest(_message.Message):
    __slots__ = ("model_name", "version")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ListAnnotationsResponse(_message.Message):
    __slots__ = ("annotations",)
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    annotations: _containers.RepeatedCompositeFieldContainer[Annotation]
    def __init__(self, annotations: _Optional[_Iterable[_Union[Annotation, _Mapping]]] = ...) -> None: ...

class RemoveAnnotationRequest(_message.Message):
    __slots__ = ("model_name", "version", "id")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    version: int
    id: int
    def __init__(self, model_name: _Optional[str] = ..., version: _Optional[int] = ..., id: _Optional[int] = ...) -> None: ...

class RemoveAnnotationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
