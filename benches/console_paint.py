#!/usr/bin/env python3
"""Console page-load benchmark (issue 19): time to first useful paint, measured from navigation
start by the browser itself, of
- the model page (bindings, pending promotions and the first page of versions on screen, marked by
  app.js as `bindery:model-page`) for a model with --versions versions, next to the same page for a
  model with --baseline versions;
- the models page (the first page of the list, `bindery:models-page`), plain and with a search
  filter, for --models models, next to the same pages for --models-baseline models.

Each data set lives in its own PostgreSQL database seeded by the `search` benchmark's loader (10
metrics, 10 tags and lineage per version); a release `bindery primary` serves each console;
Debian's headless Chromium loads each page --runs times after 2 warm-up loads, all in one run.
Prints RESULT lines for benches/report.py. Needs selenium (tests/console/requirements.txt) and
chromium/chromedriver.
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
import urllib.parse
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


#: The models page's search: about half the models have a staging binding (the loader's data).
MODELS_FILTER = "binding = 'staging' AND name LIKE 'ns1%'"


def seed(models: int, versions: int) -> str:
    out = subprocess.run(
        [os.path.join(BIN, "search"), "--models", str(models), "--versions", str(versions), "--runs", "1"],
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


def paint_ms(driver: webdriver.Chrome, url: str, page: str, mark: str, rows_css: str) -> float:
    driver.get("about:blank")
    driver.get(f"{url}/#/{page}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        at = driver.execute_script(
            "const m = performance.getEntriesByName(arguments[0]); return m.length ? m[0].startTime : null;", mark
        )
        if at is not None:
            rows = driver.execute_script("return document.querySelectorAll(arguments[0]).length;", rows_css)
            if rows == 0:
                raise RuntimeError(f"{page} rendered no rows")
            return float(at)
        time.sleep(0.005)
    raise RuntimeError(f"{page} never became useful")


MODEL_PAGE = (f"model/{MODEL.replace('/', '%2F')}", "bindery:model-page", "#versions-table tbody tr")
MODELS_PAGE = ("models", "bindery:models-page", "#models-table tbody tr")
MODELS_SEARCH = (f"models?q={urllib.parse.quote(MODELS_FILTER)}", "bindery:models-page", "#models-table tbody tr")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=10)
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--models-baseline", type=int, default=10)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    databases, procs = [], []
    try:
        # (label, models, versions per model, pages measured)
        sets = [
            ("console_paint", 1, args.versions, [("model", MODEL_PAGE)]),
            ("console_paint", 1, args.baseline, [("model", MODEL_PAGE)]),
            ("console_models", args.models, 1, [("list", MODELS_PAGE), ("search", MODELS_SEARCH)]),
            ("console_models", args.models_baseline, 1, [("list", MODELS_PAGE), ("search", MODELS_SEARCH)]),
        ]
        targets = []
        for label, models, versions, pages in sets:
            started = time.monotonic()
            db = seed(models, versions)
            databases.append(db)
            print(f"console_paint: seeded {models} models x {versions} versions in {time.monotonic() - started:.0f} s",
                  file=sys.stderr)
            proc, url = serve(db)
            procs.append(proc)
            targets.append((label, models, versions, pages, url))
        driver = browser()
        try:
            for label, models, versions, pages, url in targets:
                for kind, (page, mark, rows_css) in pages:
                    for _ in range(2):
                        paint_ms(driver, url, page, mark, rows_css)
                    times = sorted(paint_ms(driver, url, page, mark, rows_css) for _ in range(args.runs))
                    p90 = times[min(len(times) - 1, (len(times) * 9 + 9) // 10 - 1)]
                    print("RESULT " + json.dumps({
                        "label": label, "page": kind, "models": models, "versions": versions, "runs": len(times),
                        "p50_ms": round(statistics.median(times), 1), "p90_ms": round(p90, 1),
                        "max_ms": round(times[-1], 1),
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
