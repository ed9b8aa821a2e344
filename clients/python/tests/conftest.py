"""Real registries for the client tests: `bindery dev` (SQLite, local artifact store), and a
primary plus two read nodes on PostgreSQL with s3s-fs as the object store.

The binary is $BINDERY_BIN (default: the workspace's target/debug/bindery); PostgreSQL is
$BINDERY_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; each fixture
creates its own database); s3s-fs is $BINDERY_TEST_S3S_FS or on PATH. Nothing is mocked.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence

import pytest

import bindery

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
S3_KEY, S3_SECRET = "bindery-test", "bindery-test-secret"
#: Files above 5 MiB go up in 5 MiB parts, so the tests cover multipart uploads too.
MULTIPART = ["--multipart-threshold-bytes", "5242880", "--multipart-part-bytes", "5242880"]


def _binary() -> str:
    path = os.environ.get("BINDERY_BIN") or os.path.join(ROOT, "target", "debug", "bindery")
    if not os.access(path, os.X_OK):
        pytest.fail(f"no bindery binary at {path}: run `cargo build --bin bindery` or set BINDERY_BIN")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")


@dataclass
class Process:
    """A server process; its output goes to a log file shown when a test fails."""

    argv: List[str]
    log_path: str
    port: int
    env: Dict[str, str] = field(default_factory=dict)
    proc: Optional[subprocess.Popen] = None

    def start(self) -> "Process":
        log = open(self.log_path, "ab")
        env = dict(os.environ, RUST_LOG="warn", **self.env)
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        wait_for_port(self.port, self.proc, os.path.basename(self.argv[0]) + " " + self.argv[1])
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class Registry:
    """What a test needs to reach a registry."""

    kind: str
    address: str
    readers: List[str]
    token: Optional[str]
    processes: List[Process]
    workdir: str
    #: MLflow's REST API on this registry (MLFLOW_TRACKING_URI).
    mlflow_uri: str = ""
    #: The web console on this registry (its Fleet page reports on the registry's read nodes).
    console_uri: str = ""

    def client(self, **kwargs: object) -> bindery.Client:
        kwargs.setdefault("token", self.token)
        kwargs.setdefault("readers", self.readers)
        return bindery.Client(self.address, **kwargs)  # type: ignore[arg-type]

    def cli(self, *args: str) -> str:
        """Runs the bindery CLI against the primary and returns its stdout."""
        env = dict(os.environ)
        if self.token:
            env["BINDERY_TOKEN"] = self.token
        out = subprocess.run(
            [_binary(), "--server", f"http://{self.address}", *args], env=env, capture_output=True, text=True
        )
        if out.returncode != 0:
            raise RuntimeError(f"bindery {' '.join(args)} failed: {out.stderr}")
        return out.stdout

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.argv[1]} ({p.log_path})\n{open(p.log_path, errors='replace').read()[-4000:]}" for p in self.processes
        )


def start_dev(workdir: str, auth: bool = False, extra: Sequence[str] = (), console_port: int = 0) -> Registry:
    """`bindery dev` on free ports (the console on `console_port` when one is given: an identity
    provider must know the console's address before it starts)."""
    port = free_port()
    mlflow_port = free_port()
    console_port = console_port or free_port()
    dev = Process(
        [
            _binary(),
            "dev",
            "--data-dir",
            os.path.join(workdir, "data"),
            "--listen",
            f"127.0.0.1:{port}",
            "--artifact-listen",
            f"127.0.0.1:{free_port()}",
            "--metrics-listen",
            "off",
            "--mlflow-listen",
            f"127.0.0.1:{mlflow_port}",
            "--console-listen",
            f"127.0.0.1:{console_port}",
            *(["--auth"] if auth else []),
            *MULTIPART,
            *extra,
        ],
        os.path.join(workdir, "dev.log"),
        port,
    ).start()
    wait_for_port(mlflow_port, dev.proc, "bindery dev (MLflow API)")  # type: ignore[arg-type]
    wait_for_port(console_port, dev.proc, "bindery dev (web console)")  # type: ignore[arg-type]
    token = None
    if auth:
        minted = subprocess.run(
            [_binary(), "--json", "token", "create", "--bootstrap", "--principal", "admin",
             "--data-dir", os.path.join(workdir, "data")],
            capture_output=True, text=True, check=True,
        )
        token = json.loads(minted.stdout)["secret"]
    return Registry(
        "dev", dev.address, [], token, [dev], workdir, f"http://127.0.0.1:{mlflow_port}", f"http://127.0.0.1:{console_port}"
    )


def _s3s_fs() -> str:
    found = os.environ.get("BINDERY_TEST_S3S_FS") or shutil.which("s3s-fs")
    for candidate in (found, os.path.join(ROOT, "target", "tools", "bin", "s3s-fs")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("s3s-fs not found: set BINDERY_TEST_S3S_FS (scripts/test.sh installs it into target/tools)")


def start_postgres(workdir: str) -> Registry:
    base = os.environ.get("BINDERY_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    database = f"bindery_py_{uuid.uuid4().hex[:12]}"
    url = base.rsplit("/", 1)[0] + "/" + database
    s3_port = free_port()
    s3_dir = os.path.join(workdir, "s3")
    os.makedirs(os.path.join(s3_dir, "models"))
    s3 = Process(
        [_s3s_fs(), "--host", "127.0.0.1", "--port", str(s3_port), "--access-key", S3_KEY, "--secret-key", S3_SECRET, s3_dir],
        os.path.join(workdir, "s3.log"),
        s3_port,
    ).start()
    s3_args = [
        "--s3-endpoint",
        f"http://127.0.0.1:{s3_port}",
        "--s3-region",
        "us-east-1",
        "--s3-force-path-style",
        "--s3-access-key-id",
        S3_KEY,
        "--s3-secret-access-key",
        S3_SECRET,
        "--artifact-bucket",
        "models",
        *MULTIPART,
    ]
    port = free_port()
    mlflow_port = free_port()
    console_port = free_port()
    reader_ports = [free_port(), free_port()]
    primary = Process(
        [_binary(), "primary", "--listen", f"127.0.0.1:{port}", "--database-url", url, "--create-database",
         "--metrics-listen", "off", "--gc-interval-secs", "0", "--mlflow-listen", f"127.0.0.1:{mlflow_port}",
         "--console-listen", f"127.0.0.1:{console_port}",
         "--console-readers", ",".join(f"http://127.0.0.1:{p}" for p in reader_ports), *s3_args],
        os.path.join(workdir, "primary.log"),
        port,
    ).start()
    # The primary listens at once and creates and migrates its database behind it: retry until
    # the schema is there.
    deadline = time.monotonic() + 60
    while True:
        minted = subprocess.run(
            [_binary(), "--json", "token", "create", "--bootstrap", "--principal", "admin", "--database-url", url],
            capture_output=True,
            text=True,
        )
        if minted.returncode == 0:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"bootstrapping the admin token failed: {minted.stderr}")
        time.sleep(0.2)
    token = json.loads(minted.stdout)["secret"]
    readers = []
    for name, rport in zip(("reader-a", "reader-b"), reader_ports):
        readers.append(
            Process(
                [_binary(), "reader", "--listen", f"127.0.0.1:{rport}", "--database-url", url, "--metrics-listen", "off",
                 *s3_args],
                os.path.join(workdir, f"{name}.log"),
                rport,
            ).start()
        )
    registry = Registry("postgres", primary.address, [r.address for r in readers], token, [s3, primary, *readers], workdir,
                        f"http://127.0.0.1:{mlflow_port}", f"http://127.0.0.1:{console_port}")
    registry.database_url = url  # type: ignore[attr-defined]
    return registry


def _drop_database(url: str) -> None:
    base, database = url.rsplit("/", 1)
    psql = shutil.which("psql")
    if psql:
        subprocess.run([psql, base + "/postgres", "-qc", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'],
                       capture_output=True)


@pytest.fixture(scope="module", params=["dev", "postgres"])
def registry(request: pytest.FixtureRequest) -> Iterator[Registry]:
    """Each test module runs once against `bindery dev` and once against PostgreSQL."""
    workdir = tempfile.mkdtemp(prefix=f"bindery-py-{request.param}-")
    reg = start_dev(workdir) if request.param == "dev" else start_postgres(workdir)
    try:
        yield reg
    finally:
        for p in reversed(reg.processes):
            p.stop()
        if hasattr(reg, "database_url"):
            _drop_database(reg.database_url)  # type: ignore[attr-defined]
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def client(registry: Registry) -> Iterator[bindery.Client]:
    with registry.client() as c:
        yield c


@pytest.fixture
def model(client: bindery.Client) -> str:
    """A fresh model for the test."""
    name = f"py/m-{uuid.uuid4().hex[:10]}"
    client.create_model(name, owner="tests")
    return name


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed and "registry" in getattr(item, "funcargs", {}):
        report.sections.append(("bindery logs", item.funcargs["registry"].logs()))
