"""The web console in a real headless Chromium against `bindery dev --auth` (conftest.py): sign in,
search, open a model, compare versions, roll back a binding, approve a promotion as an APPROVER and
fail to as a VIEWER (no button, and the API refuses), lineage, audit and fleet. Every page is
saved as a screenshot under target/console-screenshots/.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Dict, List, Optional, Tuple

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from conftest import MODEL, Seeded, screenshot

WAIT = 20


def wait_css(driver: WebDriver, css: str, text: Optional[str] = None) -> WebElement:
    if text is None:
        return WebDriverWait(driver, WAIT).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))
    WebDriverWait(driver, WAIT).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
    return driver.find_element(By.CSS_SELECTOR, css)


def sign_in(driver: WebDriver, seeded: Seeded, who: str, page: str = "models") -> None:
    driver.get(f"{seeded.url}/#/{page}")
    token = wait_css(driver, "#token")
    token.send_keys(seeded.tokens[who])
    driver.find_element(By.ID, "signin").click()
    wait_css(driver, "#principal", who)


def open_page(driver: WebDriver, seeded: Seeded, hash_path: str, ready_css: str, text: Optional[str] = None) -> None:
    driver.get(f"{seeded.url}/#/{hash_path}")
    wait_css(driver, ready_css, text)


def api(seeded: Seeded, method: str, body: Dict, token: Optional[str], headers: Optional[Dict[str, str]] = None,
        http: str = "POST", raw: Optional[bytes] = None) -> Tuple[int, Dict]:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(f"{seeded.url}/api/v1/{method}", data=data if http == "POST" else None, method=http)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    try:
        with urllib.request.urlopen(request, timeout=10) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def rows(driver: WebDriver, table_css: str) -> List[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, f"{table_css} tbody tr")


def test_sign_in_and_search_models(seeded: Seeded, browser: WebDriver) -> None:
    browser.get(f"{seeded.url}/")
    wait_css(browser, "#token").send_keys("bdy_not_a_real_token")
    browser.find_element(By.ID, "signin").click()
    wait_css(browser, "[role=alert]", "UNAUTHENTICATED")
    screenshot(browser, f"{seeded.registry.kind}-01-sign-in-refused")
    browser.find_element(By.ID, "token").clear()
    sign_in(browser, seeded, "victor")

    # VIEWER on fraud/ only: the other namespace's model is not listed.
    wait_css(browser, "#models-table")
    names = [r.find_element(By.CSS_SELECTOR, "td a").text for r in rows(browser, "#models-table")]
    assert names == ["fraud/detector", "fraud/rules"], names
    screenshot(browser, f"{seeded.registry.kind}-02-models")

    box = browser.find_element(By.ID, "model-filter")
    box.send_keys("name = 'fraud/detector'")
    browser.find_element(By.ID, "model-search").click()
    WebDriverWait(browser, WAIT).until(lambda d: len(rows(d, "#models-table")) == 1)

    # A bad filter is shown with its position.
    box = wait_css(browser, "#model-filter")
    box.clear()
    box.send_keys("name = 'x' AND")
    browser.find_element(By.ID, "model-search").click()
    alert = wait_css(browser, "#models-results [role=alert]", "INVALID_ARGUMENT")
    assert "at 15" in alert.text and "^" in alert.find_element(By.CSS_SELECTOR, "pre.caret").text
    screenshot(browser, f"{seeded.registry.kind}-03-models-filter-error")


def test_model_page_and_compare(seeded: Seeded, browser: WebDriver) -> None:
    sign_in(browser, seeded, "victor")
    open_page(browser, seeded, f"model/{MODEL.replace('/', '%2F')}", "#versions-table")
    assert len(rows(browser, "#versions-table")) == 4
    production = wait_css(browser, "[data-binding=production]")
    assert "version 2" in production.text
    champion = browser.find_element(By.CSS_SELECTOR, "[data-binding=champion]")
    assert "v2 90%" in champion.text and "shadows: v4" in champion.text
    # A VIEWER is not offered a rollback.
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-rollback]")
    production.find_element(By.CSS_SELECTOR, "button[aria-controls]").click()
    wait_css(browser, "#history-production", "first release")
    screenshot(browser, f"{seeded.registry.kind}-04-model")

    # Sort by auc, best first.
    header = browser.find_element(By.XPATH, "//th[button[starts-with(normalize-space(.), 'auc')]]/button")
    header.click()
    WebDriverWait(browser, WAIT).until(
        lambda d: d.find_element(By.XPATH, "//th[button[starts-with(normalize-space(.), 'auc')]]").get_attribute("aria-sort") == "descending"
    )
    first = rows(browser, "#versions-table")[0].find_elements(By.CSS_SELECTOR, "td")[1].text
    assert first == "3", first

    for v in ("2", "3"):
        browser.find_element(By.CSS_SELECTOR, f"input[data-version='{v}']").click()
    browser.find_element(By.ID, "compare").click()
    table = wait_css(browser, "#compare-table")
    differing = [r.find_element(By.CSS_SELECTOR, "th").text for r in table.find_elements(By.CSS_SELECTOR, "tbody tr.diff")]
    assert any(d.startswith("auc") for d in differing), differing
    assert any(d.startswith("outputs") for d in differing), differing
    assert not any(d.startswith("inputs") for d in differing), differing
    chart = wait_css(browser, "svg.chart")
    assert len(chart.find_elements(By.CSS_SELECTOR, "circle")) == 4
    assert chart.find_elements(By.CSS_SELECTOR, "circle.bound")
    screenshot(browser, f"{seeded.registry.kind}-05-compare")


def test_viewer_sees_no_approve_button_and_the_api_refuses(seeded: Seeded, browser: WebDriver) -> None:
    # Every model's requests that victor may view (his grant is on fraud/ only), then one model's.
    sign_in(browser, seeded, "victor", "promotions")
    wait_css(browser, f"[data-request='{seeded.request_id}']")
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-request]")) == 1, "search/ranker's request is not his to see"
    wait_css(browser, "#promotion-model").send_keys(MODEL)
    browser.find_element(By.ID, "promotion-show").click()
    WebDriverWait(browser, WAIT).until(lambda d: "model=" in d.current_url)
    card = wait_css(browser, f"[data-request='{seeded.request_id}']")
    assert "metrics.auc" in card.text or "metric auc" in card.text
    assert "cannot approve" in card.text
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-approve]")
    screenshot(browser, f"{seeded.registry.kind}-06-promotions-viewer")
    # The same call the button would make, from this page with this token: refused.
    answer = browser.execute_async_script(
        """const done = arguments[arguments.length - 1];
        fetch('/api/v1/ApprovePromotion', {method: 'POST', headers: {'Content-Type': 'application/json',
          Authorization: 'Bearer ' + sessionStorage.getItem('bindery.token')}, body: JSON.stringify({id: arguments[0]})})
          .then(async (r) => done([r.status, await r.json()]));""",
        seeded.request_id,
    )
    assert answer[0] == 403 and answer[1]["code"] == "PERMISSION_DENIED", answer


def test_approver_approves_then_rolls_back(seeded: Seeded, browser: WebDriver) -> None:
    sign_in(browser, seeded, "alice")
    open_page(browser, seeded, f"model/{MODEL.replace('/', '%2F')}", "#pending")
    card = wait_css(browser, f"#pending [data-request='{seeded.request_id}']")
    assert "✓ pass" in card.text  # the metric gate
    card.find_element(By.CSS_SELECTOR, "textarea").send_keys("looks good")
    screenshot(browser, f"{seeded.registry.kind}-07-promotions-approver")
    card.find_element(By.CSS_SELECTOR, "[data-approve]").click()
    wait_css(browser, "#toast", "approved and applied")

    open_page(browser, seeded, f"model/{MODEL.replace('/', '%2F')}", "[data-binding=production]", "version 3")
    browser.find_element(By.CSS_SELECTOR, "[data-rollback=production]").click()
    dialog = wait_css(browser, "dialog")
    # Confirming without a reason does nothing; with one, the binding goes back.
    dialog.find_element(By.ID, "ask-confirm").click()
    assert browser.find_elements(By.CSS_SELECTOR, "dialog[open]")
    dialog.find_element(By.ID, "ask-text").send_keys("v3 raises false positives")
    screenshot(browser, f"{seeded.registry.kind}-08-rollback-dialog")
    dialog.find_element(By.ID, "ask-confirm").click()
    wait_css(browser, "#toast", "rolled back to version 2")
    wait_css(browser, "[data-binding=production]", "version 2")
    screenshot(browser, f"{seeded.registry.kind}-09-model-after-rollback")
    history = json.loads(seeded.registry.cli("--json", "history", MODEL, "production"))
    entries = history.get("entries", history) if isinstance(history, dict) else history
    assert any(e.get("reason") == "v3 raises false positives" and e.get("actor") == "alice" for e in entries), entries


def test_lineage_audit_and_fleet(seeded: Seeded, browser: WebDriver) -> None:
    sign_in(browser, seeded, "admin")
    open_page(browser, seeded, f"lineage/{MODEL.replace('/', '%2F')}/3", "svg.graph")
    listed = browser.find_element(By.ID, "lineage-list").text
    assert f"{MODEL} v2 → {MODEL} v3" in listed and f"{MODEL} v3 → {MODEL} v4" in listed, listed
    assert "s3://data/transactions" in listed
    screenshot(browser, f"{seeded.registry.kind}-10-lineage")

    open_page(browser, seeded, "audit", "#audit-table")
    assert len(rows(browser, "#audit-table")) > 5
    browser.find_element(By.ID, "verify").click()
    wait_css(browser, "#audit-verify", "Chain intact")
    screenshot(browser, f"{seeded.registry.kind}-11-audit")
    open_page(browser, seeded, f"audit?action=binding.rollback", "#audit-results")
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#audit-table, #audit-results p"))

    open_page(browser, seeded, "fleet", "#fleet-table", "SERVING")
    fleet = browser.find_element(By.ID, "fleet-table")
    if seeded.registry.kind == "dev":
        assert "embedded resolver" in fleet.text
    else:
        # Both read nodes, each caught up with the database.
        WebDriverWait(browser, WAIT).until(
            lambda d: [r.find_elements(By.CSS_SELECTOR, "td")[1].text for r in rows(d, "#fleet-table")] == ["SERVING", "SERVING"]
        )
        for reader in seeded.registry.readers:
            assert f"http://{reader}" in fleet.text
    screenshot(browser, f"{seeded.registry.kind}-12-fleet")


def test_json_layer_refuses_bad_calls(seeded: Seeded) -> None:
    admin = seeded.tokens["admin"]
    status, body = api(seeded, "GetModel", {"name": MODEL}, None)
    assert (status, body["code"]) == (401, "UNAUTHENTICATED"), body
    status, body = api(seeded, "GetModel", {"name": MODEL}, admin)
    assert status == 200 and body["name"] == MODEL
    status, body = api(seeded, "GetModel", {"nmae": MODEL}, admin)
    assert (status, body["code"]) == (400, "INVALID_ARGUMENT") and "nmae" in body["message"], body
    status, body = api(seeded, "GetModel", {"name": "no/such"}, admin)
    assert (status, body["code"]) == (404, "NOT_FOUND"), body
    status, body = api(seeded, "CreateToken", {"principal": "mallory"}, admin)
    assert (status, body["code"]) == (404, "NOT_FOUND") and "not a method the console" in body["message"], body
    status, body = api(seeded, "GetModel", {}, admin, raw=b"[1, 2]")
    assert (status, body["code"]) == (400, "INVALID_ARGUMENT"), body
    status, body = api(seeded, "GetModel", {}, admin, raw=b"{" + b" " * (1024 * 1024 + 1) + b"}")
    assert (status, body["code"]) == (429, "RESOURCE_EXHAUSTED"), body
    status, body = api(seeded, "GetModel", {"name": MODEL}, admin, headers={"Origin": "https://evil.example"})
    assert (status, body["code"]) == (403, "PERMISSION_DENIED"), body
    status, body = api(seeded, "GetModel", {"name": MODEL}, admin, headers={"Content-Type": "text/plain"})
    assert (status, body["code"]) == (400, "INVALID_ARGUMENT"), body
    status, body = api(seeded, "GetModel", {}, admin, http="GET")
    assert status == 400, body
    # A VIEWER may not roll back (the JSON layer decides nothing: the registry refuses).
    status, body = api(seeded, "RollbackBinding", {"model_name": MODEL, "binding": "staging", "reason": "x"}, seeded.tokens["victor"])
    assert (status, body["code"]) == (403, "PERMISSION_DENIED"), body

    with urllib.request.urlopen(f"{seeded.url}/", timeout=10) as res:
        csp = res.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert res.headers["X-Frame-Options"] == "DENY"
        page = res.read().decode()
        assert "http://" not in page and "https://" not in page, "the page fetches nothing from elsewhere"
