"""Bindery's Python client.

    from bindery import Client

    client = Client("127.0.0.1:50051")            # or $BINDERY_ADDRESS, $BINDERY_TOKEN
    v = client.register_version("fraud/detector", "./model/", request_id=run_id,
                                metrics={"auc": 0.93})
    client.set_binding("fraud/detector", "production", v.version.version)
    client.download("fraud/detector@production", to="/models/fraud")

The generated protobuf and gRPC modules are in ``bindery.v1`` for anything the wrapper does not
cover.
"""

from .client import Client, Download, parse_ref
from .errors import (
    Aborted,
    AlreadyExists,
    BinderyError,
    ChecksumMismatch,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    TransferError,
    Unauthenticated,
    Unavailable,
)
from . import routing
from .watch import Watch, WatchUpdate

__version__ = "0.1.0"

__all__ = [
    "Aborted",
    "AlreadyExists",
    "BinderyError",
    "ChecksumMismatch",
    "Client",
    "DeadlineExceeded",
    "Download",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "TransferError",
    "Unauthenticated",
    "Unavailable",
    "Watch",
    "WatchUpdate",
    "parse_ref",
]
