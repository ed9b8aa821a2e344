"""Moving bytes: hashing local files, uploading them through an upload session's presigned URLs,
and downloading an artifact's files through presigned URLs with size and SHA-256 checks."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterable, List, Mapping, Optional, Sequence

from .errors import ChecksumMismatch, TransferError
from ._transport import Backoff
from .v1 import registry_pb2, types_pb2

CHUNK = 1024 * 1024
HTTP_ATTEMPTS = 4
HTTP_TIMEOUT = 300.0


@dataclass(frozen=True)
class LocalFile:
    """A file to upload: where it is, its path in the artifact, size and SHA-256."""

    source: str
    path: str
    size_bytes: int
    sha256: str


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def scan(source: str) -> List[LocalFile]:
    """The files to upload for ``source``: the file itself (named by its base name), or every
    regular file under the directory (paths relative to it, ``/``-separated, sorted)."""
    if os.path.isfile(source):
        return [LocalFile(source, os.path.basename(source), os.path.getsize(source), sha256_file(source))]
    if not os.path.isdir(source):
        raise FileNotFoundError(f"{source}: no such file or directory")
    files: List[LocalFile] = []
    for root, dirs, names in os.walk(source):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(root, name)
            if not os.path.isfile(full):
                continue
            rel = os.path.relpath(full, source).replace(os.sep, "/")
            files.append(LocalFile(full, rel, os.path.getsize(full), sha256_file(full)))
    if not files:
        raise ValueError(f"{source}: the directory holds no files")
    return files


class _Window:
    """A read-only view of ``size`` bytes of a file from ``offset`` (a part of a multipart upload),
    streamed rather than loaded."""

    def __init__(self, f: BinaryIO, offset: int, size: int) -> None:
        self._f, self._left = f, size
        f.seek(offset)

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        return data


def _send(request: types_pb2.PresignedRequest, body: Optional[BinaryIO], length: int) -> Any:
    headers = dict(request.headers)
    if body is not None:
        headers.setdefault("Content-Length", str(length))
    req = urllib.request.Request(request.url, data=body, method=request.method or "GET", headers=headers)
    return urllib.request.urlopen(req, timeout=HTTP_TIMEOUT)  # noqa: S310 (a presigned http(s) URL)


def _with_retries(what: str, attempt_once) -> None:  # type: ignore[no-untyped-def]
    """Runs ``attempt_once`` up to HTTP_ATTEMPTS times: network errors, 408, 429 and 5xx are
    retried with backoff; any other HTTP error (an expired or tampered URL: 403) is not."""
    backoff = Backoff(base=0.2, cap=5.0)
    for attempt in range(1, HTTP_ATTEMPTS + 1):
        try:
            attempt_once()
            return
        except urllib.error.HTTPError as e:
            detail = e.read(512).decode("utf-8", "replace")
            retriable = e.code in (408, 429) or e.code >= 500
            if not retriable or attempt == HTTP_ATTEMPTS:
                raise TransferError(f"{what}: HTTP {e.code} {e.reason}: {detail.strip()}") from None
        except (urllib.error.URLError, OSError) as e:
            if attempt == HTTP_ATTEMPTS:
                raise TransferError(f"{what}: {e}") from None
        backoff.sleep()


def upload(session_files: Iterable[registry_pb2.FileUpload], local: Sequence[LocalFile]) -> None:
    """PUTs every file (or every part of it) of an upload session."""
    by_path = {f.path: f for f in local}
    for upload_file in session_files:
        source = by_path.get(upload_file.path)
        if source is None:
            raise TransferError(f"the upload session lists {upload_file.path!r}, which was not asked for")
        if upload_file.HasField("put"):
            put = upload_file.put

            def whole(put: types_pb2.PresignedRequest = put, source: LocalFile = source) -> None:
                with open(source.source, "rb") as f, _send(put, f, source.size_bytes) as response:
                    response.read()

            _with_retries(f"uploading {source.path}", whole)
        for part in upload_file.parts:

            def one_part(part: registry_pb2.UploadPart = part, source: LocalFile = source) -> None:
                with open(source.source, "rb") as f:
                    window = _Window(f, part.offset, part.size_bytes)
                    with _send(part.put, window, part.size_bytes) as response:  # type: ignore[arg-type]
                        response.read()

            _with_retries(f"uploading {source.path} part {part.part_number}", one_part)


def _safe_relative(path: str) -> str:
    """A file's path inside the destination: relative, without '..', never escaping it."""
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts) or path.startswith("/"):
        raise TransferError(f"refusing to write artifact file {path!r} outside the destination")
    return os.path.join(*parts)


def download(urls: Sequence[types_pb2.DownloadUrl], to: str, expected: Mapping[str, str]) -> List[str]:
    """Downloads every file into a staging directory inside ``to``, checks each one's size and
    SHA-256 (from the URL entry, else from ``expected`` by path), then moves them into place.
    A mismatch raises ChecksumMismatch and leaves ``to`` as it was. Returns the paths written."""
    os.makedirs(to, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".bindery-download-", dir=to)
    try:
        written: List[str] = []
        for url in urls:
            rel = _safe_relative(url.path)
            target = os.path.join(staging, rel)
            os.makedirs(os.path.dirname(target) or staging, exist_ok=True)
            want_sha = url.sha256 or expected.get(url.path, "")

            def fetch(url: types_pb2.DownloadUrl = url, target: str = target, want_sha: str = want_sha) -> None:
                digest, size = hashlib.sha256(), 0
                with _send(url.request, None, 0) as response, open(target, "wb") as out:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
                if url.size_bytes and size != url.size_bytes:
                    raise ChecksumMismatch(f"{url.path}: got {size} bytes, the registry recorded {url.size_bytes}")
                if want_sha and digest.hexdigest() != want_sha:
                    raise ChecksumMismatch(
                        f"{url.path}: SHA-256 {digest.hexdigest()} does not match the registry's {want_sha}"
                    )

            _with_retries(f"downloading {url.path}", fetch)
            written.append(rel)
        for rel in written:
            final = os.path.join(to, rel)
            os.makedirs(os.path.dirname(final) or to, exist_ok=True)
            os.replace(os.path.join(staging, rel), final)
        return [os.path.join(to, rel) for rel in written]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
