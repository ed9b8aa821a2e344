#!/usr/bin/env python3
"""Console page-load benchmark (issue 19): time to first useful paint of the model page (bindings,
pending promotions and the first page of versions on screen, marked by app.js as
`bindery:model-page`, measured from navigation start by the browser itself) for a model with
--versions versions, next to the same page for a model with --baseline versions in the same run.

Each model lives in its own PostgreSQL database seeded by the `search` benchmark's loader (10
metrics, 10 tags and lineage per version); a release `bindery primary` serves each console;
Debian's headless Chromium loads the page --runs times after 2 warm-up loads. Prints RESULT lines
for benches/report.py. Needs selenium (tests/console/requirements.txt) and chromium/chromedriver.
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(ROOT, "target", "release")
PG = os.environ.get("BINDERY_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]
MODEL = "ns1/model-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(versions: int) -> str:
    out = subprocess.run(
        [os.path.join(BIN, "search"), "--models", "1", "--versions", str(versions), "--runs", "1"],
        env=dict(os.environ, BINDERY_BENCH_KEEP_DB="1"), capture_output=True, text=True, check=True,
    ).stdout
    found = re.search(r"kept database (\S+)", out)
    if not found:
        raise RuntimeError(f"the search loader did not keep its database: {out[-2000:]}")
    return found.group(1)


def serve(database: str) -> "tuple[subprocess.Popen, str]":
    port = free_port()
    proc = subprocess.Popen(
        [os.path.join(BIN, "bindery"), "primary", "--listen", f"127.0.0.1:{free_port()}", "--database-url",
         f"{PG}/{database}", "--auth", "none", "--verify-artifacts", "false", "--metrics-listen", "off",
         "--console-listen", f"127.0.0.1:{port}"],
        env=dict(os.environ, BINDERY_LOG="error"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            req = urllib.request.Request(f"{url}/api/v1/GetModel", data=json.dumps({"name": MODEL}).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(req, timeout=5):
                return proc, url
        except Exception:  # noqa: BLE001 - not up yet
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.2)


def browser() -> webdriver.Chrome:
    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,900", "--disable-gpu"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)


def paint_ms(driver: webdriver.Chrome, url: str) -> float:
    driver.get("about:blank")
    driver.get(f"{url}/#/model/{MODEL.replace('/', '%2F')}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        mark = driver.execute_script(
            "const m = performance.getEntriesByName('bindery:model-page'); return m.length ? m[0].startTime : null;"
        )
        if mark is not None:
            rows = driver.execute_script("return document.querySelectorAll('#versions-table tbody tr').length;")
            if rows == 0:
                raise RuntimeError("the model page rendered no versions")
            return float(mark)
        time.sleep(0.005)
    raise RuntimeError("the model page never became useful")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=10)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    databases, procs = [], []
    try:
        targets = []
        for n in (args.versions, args.baseline):
            started = time.monotonic()
            db = seed(n)
            databases.append(db)
            print(f"console_paint: seeded {n} versions in {time.monotonic() - started:.0f} s", file=sys.stderr)
            proc, url = serve(db)
            procs.append(proc)
            targets.append((n, url))
        driver = browser()
        try:
            for n, url in targets:
                for _ in range(2):
                    paint_ms(driver, url)
                times = sorted(paint_ms(driver, url) for _ in range(args.runs))
                p90 = times[min(len(times) - 1, (len(times) * 9 + 9) // 10 - 1)]
                print("RESULT " + json.dumps({
                    "label": "console_paint", "versions": n, "runs": len(times),
                    "p50_ms": round(statistics.median(times), 1), "p90_ms": round(p90, 1), "max_ms": round(times[-1], 1),
                }))
        finally:
            driver.quit()
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for db in databases:
            subprocess.run(["psql", f"{PG}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'],
                           capture_output=True)


if __name__ == "__main__":
    main()
