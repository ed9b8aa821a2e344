"""The Bindery client: one object for training jobs (register), serving code (resolve, download,
watch) and release tooling (bind, roll back, search)."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from . import _artifacts
from ._transport import MAX_MESSAGE_BYTES, Endpoint, Metadata, Pool, invoke, split_addresses
from .errors import FailedPrecondition
from .v1 import access_pb2, registry_pb2, resolver_pb2, types_pb2
from .watch import Watch

T = TypeVar("T")

DEFAULT_ADDRESS = "127.0.0.1:50051"
#: Default deadline of one call, in seconds.
DEFAULT_TIMEOUT = 30.0


def parse_ref(ref: str, binding: Optional[str] = None) -> Tuple[str, str]:
    """``"fraud/detector@production"`` -> ``("fraud/detector", "production")``. With ``binding``
    given, ``ref`` is the model name alone."""
    if binding is not None:
        return ref, binding
    model, sep, name = ref.rpartition("@")
    if not sep or not model or not name:
        raise ValueError(f"expected model@binding, got {ref!r}")
    return model, name


@dataclass(frozen=True)
class Download:
    """What :meth:`Client.download` put on disk."""

    model_name: str
    version: int
    binding: str
    generation: int
    revision: int
    directory: str
    files: List[str]


class Client:
    """A connection to a Bindery registry.

    ``address`` is the primary (writes, and reads that must be strongly consistent):
    ``host:port``, ``http://host:port`` or ``https://host:port``; default ``$BINDERY_ADDRESS``, else
    ``127.0.0.1:50051`` (``bindery dev``). ``readers`` are read nodes (a list or a comma-separated
    string; default ``$BINDERY_READERS``): resolve, download and watch go there, failing over from
    one to the next when one is unavailable; without readers they go to ``address``.

    ``token`` (default ``$BINDERY_TOKEN``) is sent as ``authorization: Bearer``. ``tls`` forces TLS
    on or off (default: on for ``https://``); ``root_certificates`` are PEM bytes of the CA to
    trust (default: the system's). ``actor`` names you in the audit log of a registry running
    without authentication.

    Reads, and registrations (idempotent through their ``request_id``), are retried on
    UNAVAILABLE up to ``retries`` times with backoff. Other writes are not retried: a write whose
    answer was lost may have happened; read the binding's generation and decide.
    """

    def __init__(
        self,
        address: Optional[str] = None,
        *,
        token: Optional[str] = None,
        tls: Optional[bool] = None,
        root_certificates: Optional[bytes] = None,
        readers: Union[str, Sequence[str], None] = None,
        actor: Optional[str] = None,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
        retries: int = 4,
    ) -> None:
        address = address or os.environ.get("BINDERY_ADDRESS") or DEFAULT_ADDRESS
        if readers is None:
            readers = os.environ.get("BINDERY_READERS", "")
        token = token if token is not None else os.environ.get("BINDERY_TOKEN")
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.primary_user_agent", "bindery-python/0.1"),
            # Reconnect soon after a node restarts (gRPC's default waits 1 s, then longer), so
            # the client's own retries find the node back.
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 5000),
        ]
        self._primary = Pool([Endpoint(address, tls, root_certificates, options)])
        reader_addresses = split_addresses(readers)
        self._readers = (
            Pool([Endpoint(a, tls, root_certificates, options) for a in reader_addresses])
            if reader_addresses
            else self._primary
        )
        metadata: List[Tuple[str, str]] = []
        if token:
            metadata.append(("authorization", f"Bearer {token.strip()}"))
        if actor:
            metadata.append(("x-bindery-actor", actor))
        self._metadata: Metadata = tuple(metadata)
        self.timeout = timeout
        self.retries = retries

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Closes every channel (calls in flight fail)."""
        self._primary.close()
        if self._readers is not self._primary:
            self._readers.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _write(self, rpc: str, request: Any, *, retry: bool = False, request_id: str = "") -> Any:
        metadata = self._metadata + ((("x-request-id", request_id),) if request_id else ())
        return invoke(
            self._primary,
            lambda e, md, t: getattr(e.registry, rpc)(request, metadata=md, timeout=t),
            metadata,
            timeout=self.timeout,
            retries=self.retries,
            retry=retry,
        )

    def _read(self, rpc: str, request: Any) -> Any:
        return self._write(rpc, request, retry=True)

    def _resolve_call(self, rpc: str, request: Any) -> Any:
        return invoke(
            self._readers,
            lambda e, md, t: getattr(e.resolver, rpc)(request, metadata=md, timeout=t),
            self._metadata,
            timeout=self.timeout,
            retries=self.retries,
            retry=True,
        )

    def _pages(self, rpc: str, request: Any, field: str) -> Iterator[Any]:
        """Every item of a paged listing, following next_page_token."""
        while True:
            response = self._read(rpc, request)
            yield from getattr(response, field)
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token

    # -- identity ---------------------------------------------------------------------------

    def whoami(self) -> access_pb2.WhoAmIResponse:
        """Who the registry takes you for, and your roles."""
        return self._read("WhoAmI", access_pb2.WhoAmIRequest())

    # -- models -----------------------------------------------------------------------------

    def create_model(
        self,
        name: str,
        *,
        description: str = "",
        owner: str = "",
        tags: Optional[Mapping[str, str]] = None,
    ) -> types_pb2.Model:
        return self._write(
            "CreateModel",
            registry_pb2.CreateModelRequest(name=name, description=description, owner=owner, tags=tags or {}),
        )

    def get_model(self, name: str) -> types_pb2.Model:
        return self._read("GetModel", registry_pb2.GetModelRequest(name=name))

    def list_models(self, filter: str = "", *, order_by: str = "", page_size: int = 500) -> Iterator[types_pb2.Model]:
        """Every model you may view matching ``filter`` (README "Search"), all pages."""
        request = registry_pb2.ListModelsRequest(filter=filter, order_by=order_by, page_size=page_size)
        return self._pages("ListModels", request, "models")

    def update_model(
        self,
        name: str,
        *,
        description: Optional[str] = None,
        owner: Optional[str] = None,
        set_tags: Optional[Mapping[str, str]] = None,
        remove_tags: Sequence[str] = (),
    ) -> types_pb2.Model:
        request = registry_pb2.UpdateModelRequest(name=name, set_tags=set_tags or {}, remove_tags=list(remove_tags))
        if description is not None:
            request.description = description
        if owner is not None:
            request.owner = owner
        return self._write("UpdateModel", request)

    def delete_model(self, name: str) -> int:
        """Deletes a model without bindings; returns the revision."""
        return int(self._write("DeleteModel", registry_pb2.DeleteModelRequest(name=name)).revision)

    # -- versions ---------------------------------------------------------------------------

    def register_version(
        self,
        model: str,
        source: str,
        *,
        request_id: Optional[str] = None,
        metrics: Optional[Mapping[str, float]] = None,
        params: Optional[Mapping[str, str]] = None,
        tags: Optional[Mapping[str, str]] = None,
        lineage: Union[types_pb2.Lineage, Mapping[str, Any], None] = None,
        signature: Union[types_pb2.Signature, Mapping[str, Any], None] = None,
        description: str = "",
        format: str = "",
        sha256: str = "",
        size_bytes: int = 0,
        deployment: Union[types_pb2.DeploymentSpec, Mapping[str, Any], None] = None,
    ) -> registry_pb2.RegisterVersionResponse:
        """Registers a new version of ``model``.

        ``source`` is a local file or directory (uploaded through an upload session: every file's
        size and SHA-256 are checked by the registry) or an object-store URI (``s3://bucket/key``
        or ``s3://bucket/prefix/``, registered as a pointer; ``sha256``/``size_bytes`` declare it).

        ``request_id`` makes the registration idempotent (use the training run id): a retry
        returns the original version with ``created`` false. Without one, a random id is used,
        so this call's own retries never register twice.

        ``lineage`` is a :class:`Lineage` or a dict of its fields (``training_run_id``,
        ``code_ref``, ``datasets``: ``[{"uri": ..., "version": ...}]``, ``parent_versions``:
        ``[{"model_name": ..., "version": ...}]``, ``environment``). ``signature`` is a
        :class:`Signature` or ``{"inputs": <JSON-able>, "outputs": <JSON-able>}``.
        """
        request_id = request_id or f"py-{uuid.uuid4()}"
        request = registry_pb2.RegisterVersionRequest(
            model_name=model,
            request_id=request_id,
            metrics=dict(metrics or {}),
            params={k: str(v) for k, v in (params or {}).items()},
            tags=dict(tags or {}),
            description=description,
        )
        if lineage is not None:
            request.lineage.CopyFrom(_message(lineage, types_pb2.Lineage))
        if signature is not None:
            request.signature.CopyFrom(_signature(signature))
        if deployment is not None:
            request.deployment.CopyFrom(_message(deployment, types_pb2.DeploymentSpec))
        if "://" in source:
            request.artifact.CopyFrom(types_pb2.Artifact(uri=source, sha256=sha256, size_bytes=size_bytes, format=format))
        else:
            files = _artifacts.scan(source)
            session = self._write(
                "CreateUploadSession",
                registry_pb2.CreateUploadSessionRequest(
                    model_name=model,
                    files=[registry_pb2.UploadFileSpec(path=f.path, size_bytes=f.size_bytes, sha256=f.sha256) for f in files],
                ),
                retry=True,
            )
            _artifacts.upload(session.files, files)
            request.upload_session_id = session.id
            if format:
                request.artifact.format = format
        return self._write("RegisterVersion", request, retry=True, request_id=request_id)

    def get_version(self, model: str, version: int) -> types_pb2.ModelVersion:
        return self._read("GetVersion", registry_pb2.GetVersionRequest(model_name=model, version=version))

    def list_versions(
        self, model: str = "", *, filter: str = "", order_by: str = "", page_size: int = 500
    ) -> Iterator[types_pb2.ModelVersion]:
        """Versions of ``model`` (or, with a filter, of every model you may view), all pages."""
        request = registry_pb2.ListVersionsRequest(model_name=model, filter=filter, order_by=order_by, page_size=page_size)
        return self._pages("ListVersions", request, "versions")

    def search_versions(self, filter: str, *, order_by: str = "", model: str = "") -> Iterator[types_pb2.ModelVersion]:
        """Versions matching a search, e.g. ``metrics.auc > 0.95 AND binding = 'production'``."""
        return self.list_versions(model, filter=filter, order_by=order_by)

    def update_version(
        self,
        model: str,
        version: int,
        *,
        description: Optional[str] = None,
        set_tags: Optional[Mapping[str, str]] = None,
        remove_tags: Sequence[str] = (),
        add_metrics: Optional[Mapping[str, float]] = None,
    ) -> types_pb2.ModelVersion:
        """Changes what may change: description, tags, and new metric keys (append-only)."""
        request = registry_pb2.UpdateVersionRequest(
            model_name=model,
            version=version,
            set_tags=set_tags or {},
            remove_tags=list(remove_tags),
            add_metrics=dict(add_metrics or {}),
        )
        if description is not None:
            request.description = description
        return self._write("UpdateVersion", request)

    def archive_version(self, model: str, version: int) -> types_pb2.ModelVersion:
        return self._write("ArchiveVersion", registry_pb2.ArchiveVersionRequest(model_name=model, version=version))

    # -- bindings ---------------------------------------------------------------------------

    def set_binding(
        self,
        model: str,
        binding: str,
        version: int = 0,
        *,
        traffic: Optional[types_pb2.Traffic] = None,
        expected_generation: Optional[int] = None,
        reason: str = "",
    ) -> registry_pb2.SetBindingResponse:
        """Points ``binding`` at ``version``, or splits it with ``traffic`` (sides and shadows; then
        leave ``version`` 0). With ``expected_generation`` it is a compare-and-set (``0``: the
        binding must not exist yet); a mismatch raises :class:`Aborted`."""
        request = registry_pb2.SetBindingRequest(model_name=model, binding=binding, version=version, reason=reason)
        if traffic is not None:
            request.traffic.CopyFrom(traffic)
        if expected_generation is not None:
            request.expected_generation = expected_generation
        return self._write("SetBinding", request)

    def rollback(
        self,
        model: str,
        binding: str,
        *,
        to_generation: Optional[int] = None,
        expected_generation: Optional[int] = None,
        reason: str = "",
    ) -> registry_pb2.SetBindingResponse:
        """Rebinds to the target before the latest change (or to what ``to_generation`` bound)."""
        request = registry_pb2.RollbackBindingRequest(model_name=model, binding=binding, reason=reason)
        if to_generation is not None:
            request.to_generation = to_generation
        if expected_generation is not None:
            request.expected_generation = expected_generation
        return self._write("RollbackBinding", request)

    def delete_binding(
        self, model: str, binding: str, *, expected_generation: Optional[int] = None, reason: str = ""
    ) -> int:
        request = registry_pb2.DeleteBindingRequest(model_name=model, binding=binding, reason=reason)
        if expected_generation is not None:
            request.expected_generation = expected_generation
        return int(self._write("DeleteBinding", request).revision)

    def list_bindings(self, model: str) -> List[types_pb2.Binding]:
        return list(self._read("ListBindings", registry_pb2.ListBindingsRequest(model_name=model)).bindings)

    def binding_history(self, model: str, binding: str) -> Iterator[types_pb2.BindingHistoryEntry]:
        request = registry_pb2.ListBindingHistoryRequest(model_name=model, binding=binding, page_size=500)
        return self._pages("ListBindingHistory", request, "entries")

    # -- serving ----------------------------------------------------------------------------

    def resolve(
        self,
        ref: str,
        binding: Optional[str] = None,
        *,
        routing_key: str = "",
        min_revision: int = 0,
        presign: bool = False,
    ) -> resolver_pb2.ResolveResponse:
        """Which artifact ``model@binding`` serves, from a read node (or the primary without
        readers). ``routing_key`` picks a side of a split (sticky per key); ``min_revision`` (a
        write's revision) waits until the node has applied it; ``presign`` adds download URLs."""
        model, name = parse_ref(ref, binding)
        request = resolver_pb2.ResolveRequest(
            model_name=model, binding=name, routing_key=routing_key, min_revision=min_revision, presign=presign
        )
        return self._resolve_call("Resolve", request)

    def download_urls(self, model: str, version: int) -> List[types_pb2.DownloadUrl]:
        """Presigned URLs of every file of a version (all pages), from the primary."""
        request = registry_pb2.GetDownloadUrlsRequest(model_name=model, version=version, page_size=1000)
        return list(self._pages("GetDownloadUrls", request, "files"))

    def download(
        self,
        ref: str,
        to: str,
        *,
        binding: Optional[str] = None,
        routing_key: str = "",
        min_revision: int = 0,
    ) -> Download:
        """Resolves ``model@binding`` and downloads the artifact's files into the directory ``to``,
        checking each file's size and SHA-256; a mismatch raises :class:`ChecksumMismatch` and
        leaves ``to`` untouched. Large artifacts (over 1000 files) are listed through the primary."""
        model, name = parse_ref(ref, binding)
        try:
            answer = self.resolve(model, name, routing_key=routing_key, min_revision=min_revision, presign=True)
            urls: List[types_pb2.DownloadUrl] = list(answer.download_urls)
        except FailedPrecondition:
            answer = self.resolve(model, name, routing_key=routing_key, min_revision=min_revision)
            urls = self.download_urls(model, answer.version)
        expected: Dict[str, str] = {}
        if len(urls) == 1 and answer.sha256:
            expected[urls[0].path] = answer.sha256
        files = _artifacts.download(urls, to, expected)
        return Download(model, answer.version, name, answer.generation, answer.revision, to, files)

    def watch(
        self,
        models: Sequence[str] = (),
        bindings: Sequence[str] = (),
        *,
        since_revision: int = 0,
    ) -> Watch:
        """Follows bindings: an iterator of :class:`WatchUpdate`, first the current state
        (``reset``), then every change. It reconnects by itself (to the next reader, resuming
        from the last revision it delivered) until :meth:`Watch.cancel` or :meth:`close`."""
        request = resolver_pb2.WatchBindingsRequest(
            model_names=list(models), bindings=list(bindings), since_revision=since_revision
        )
        return Watch(self._readers, request, self._metadata)

    def reader_status(self) -> resolver_pb2.ReaderStatus:
        """How current the read node that answers is."""
        return self._resolve_call("GetReaderStatus", resolver_pb2.GetReaderStatusRequest())


M = TypeVar("M", bound=Message)


def _message(value: Union[M, Mapping[str, Any]], cls: Type[M]) -> M:
    """A message as given, or built from a dict of its fields."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"expected {cls.__name__} or a dict of its fields, got {type(value).__name__}")
    return json_format.ParseDict(dict(value), cls(), ignore_unknown_fields=False)


def _signature(value: Union[types_pb2.Signature, Mapping[str, Any]]) -> types_pb2.Signature:
    if isinstance(value, types_pb2.Signature):
        return value
    unknown = set(value) - {"inputs", "outputs"}
    if unknown:
        raise ValueError(f"signature takes 'inputs' and 'outputs', not {sorted(unknown)}")
    out = types_pb2.Signature()
    if value.get("inputs") is not None:
        out.inputs_json = json.dumps(value["inputs"])
    if value.get("outputs") is not None:
        out.outputs_json = json.dumps(value["outputs"])
    return out


__all__ = ["Client", "Download", "parse_ref"]
