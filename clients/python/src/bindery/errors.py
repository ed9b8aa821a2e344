"""Exceptions raised by the Bindery client.

Every failed call raises a :class:`BinderyError` carrying the gRPC status code and the server's
message; the common codes have their own subclasses, so callers can write
``except bindery.NotFound:``. A download whose bytes do not match the registry's SHA-256 raises
:class:`ChecksumMismatch` (code ``DATA_LOSS``) and leaves nothing behind.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

import grpc


class BinderyError(Exception):
    """A call to the registry failed; ``code`` is the gRPC status code."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, code: Optional[grpc.StatusCode] = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @property
    def code_name(self) -> str:
        """The status code's name, e.g. ``NOT_FOUND``."""
        return str(self.code.name)

    def __str__(self) -> str:
        return f"{self.code_name}: {self.message}"


class InvalidArgument(BinderyError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(BinderyError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(BinderyError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(BinderyError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(BinderyError):
    """A compare-and-set lost: the binding's generation was not the expected one."""

    code = grpc.StatusCode.ABORTED


class PermissionDenied(BinderyError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(BinderyError):
    code = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhausted(BinderyError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(BinderyError):
    """No server answered (after the client's retries), or a reader is behind ``min_revision``."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(BinderyError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class ChecksumMismatch(BinderyError):
    """Downloaded bytes differ from what the registry recorded; the file was discarded."""

    code = grpc.StatusCode.DATA_LOSS


class TransferError(BinderyError):
    """An upload to or download from object storage failed (after retries)."""

    code = grpc.StatusCode.UNAVAILABLE


_BY_CODE: Dict[grpc.StatusCode, Type[BinderyError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        Aborted,
        PermissionDenied,
        Unauthenticated,
        ResourceExhausted,
        Unavailable,
        DeadlineExceeded,
    )
}


def from_rpc_error(error: grpc.RpcError) -> BinderyError:
    """The exception for a failed call (``grpc.RpcError`` is also a ``grpc.Call``)."""
    code_fn = getattr(error, "code", None)
    details_fn = getattr(error, "details", None)
    code = code_fn() if callable(code_fn) else grpc.StatusCode.UNKNOWN
    details = details_fn() if callable(details_fn) else None
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    cls = _BY_CODE.get(code, BinderyError)
    return cls(details or str(error), code)
