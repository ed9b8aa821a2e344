"""The console suite's registries and browser: `bindery dev --auth` and a primary on PostgreSQL with
two read nodes (clients/python/tests/conftest.py starts them, with the console on its own port) seeded with a model, versions, bindings, a gated
promotion and three people, and Debian's headless Chromium driven through Debian's chromedriver.
Nothing is mocked: the pages talk to the registry's real JSON layer, which runs the real handlers.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from typing import Dict, Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

_spec = importlib.util.spec_from_file_location(
    "bindery_registries", os.path.join(ROOT, "clients", "python", "tests", "conftest.py")
)
assert _spec is not None and _spec.loader is not None
registries = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = registries
_spec.loader.exec_module(registries)

MODEL = "fraud/detector"
SCREENSHOTS = os.environ.get("BINDERY_SCREENSHOTS") or os.path.join(ROOT, "target", "console-screenshots")


@dataclass
class Seeded:
    registry: "registries.Registry"
    #: principal -> API token: admin (ADMIN everywhere), alice (APPROVER on fraud/), victor (VIEWER).
    tokens: Dict[str, str]
    #: The pending promotion request (production -> version 3, waiting for one approval).
    request_id: int

    @property
    def url(self) -> str:
        return self.registry.console_uri


def _file(workdir: str, name: str, body: str) -> str:
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(body)
    return path


@pytest.fixture(scope="module", params=["dev", "postgres"])
def seeded(request: pytest.FixtureRequest) -> Iterator[Seeded]:
    """`bindery dev --auth`, and a primary on PostgreSQL (with s3s-fs and two read nodes)."""
    workdir = tempfile.mkdtemp(prefix=f"bindery-console-{request.param}-")
    reg = registries.start_dev(workdir, auth=True) if request.param == "dev" else registries.start_postgres(workdir)
    try:
        client = reg.client()
        client.create_model(MODEL, description="Card fraud scoring", owner="risk-team", tags={"team": "risk"})
        client.create_model("fraud/rules", description="Hand-written rules")
        client.create_model("search/ranker")
        for v, (auc, f1) in enumerate([(0.81, 0.70), (0.86, 0.74), (0.91, 0.79), (0.89, 0.77)], start=1):
            client.register_version(
                MODEL,
                _file(workdir, f"model-{v}.bin", f"weights {v}\n" * 50),
                request_id=f"train-{v}",
                metrics={"auc": auc, "f1": f1},
                params={"lr": str(0.1 / v), "depth": str(4 + v)},
                tags={"run": f"r{v}"},
                lineage={
                    "training_run_id": f"run-{v}",
                    "code_ref": f"git:abc{v}",
                    "datasets": [{"uri": "s3://data/transactions", "version": f"2026-0{v}"}],
                    "parent_versions": [{"model_name": MODEL, "version": v - 1}] if v > 1 else [],
                },
                signature={"inputs": {"amount": "double", "merchant": "string"}, "outputs": {"score": "double" if v < 3 else "float"}},
                description=f"version {v}",
            )
        client.set_binding(MODEL, "production", 1, reason="first release")
        client.set_binding(MODEL, "production", 2, reason="better auc")
        client.set_binding(MODEL, "staging", 3)
        reg.cli("bind", MODEL, "champion", "--split", "2=90,3=10:canary", "--shadow", "4=50")
        tokens = {"admin": reg.token or ""}
        for who, role in (("alice", "approver"), ("victor", "viewer")):
            reg.cli("grant", "add", who, role, "--scope", "fraud/")
            minted = json.loads(reg.cli("--json", "token", "create", "--principal", who))
            tokens[who] = minted["secret"]
        reg.cli("policy", "set", "production", "--scope", "fraud/", "--gate", "metrics.auc >= 0.8", "--gate", "approvals 1")
        # A request on a model outside fraud/: alice and victor must never see it.
        client.register_version("search/ranker", _file(workdir, "ranker.bin", "ranker\n"), request_id="rank-1")
        reg.cli("policy", "set", "production", "--scope", "search/ranker", "--gate", "approvals 1")
        reg.cli("promote", "search/ranker", "production", "1", "--reason", "first ranker")
        promoted = json.loads(reg.cli("--json", "promote", MODEL, "production", "3", "--reason", "auc 0.91 beats 0.86"))
        request = promoted.get("request", promoted)
        yield Seeded(reg, tokens, int(request["id"]))
    finally:
        for process in reg.processes:
            process.stop()
        if hasattr(reg, "database_url"):
            registries._drop_database(reg.database_url)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,900", "--disable-gpu"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_script_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    os.makedirs(SCREENSHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SCREENSHOTS, f"{name}.png"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    if report.failed:
        if "seeded" in getattr(item, "funcargs", {}):
            report.sections.append(("bindery logs", item.funcargs["seeded"].registry.logs()))
        driver = getattr(item, "funcargs", {}).get("browser")
        if driver is not None:
            try:
                screenshot(driver, f"FAILED-{item.name}")
                report.sections.append(("browser console", json.dumps(driver.get_log("browser"), indent=1)[:4000]))
            except Exception:  # noqa: BLE001 - best effort while reporting a failure
                pass
    return report
