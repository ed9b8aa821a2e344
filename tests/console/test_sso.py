"""Single sign-on in the console: a real headless Chromium goes through the OpenID Connect
authorization-code flow with PKCE against a real OpenID provider (panva's oidc-provider, run by
Node.js from tests/console/idp), and `bindery dev --auth` accepts the provider's ID token through
its JWT verifier (--jwt-jwks-url). The person signs in on the provider's own login form; the
console then works under the registry's RBAC for that principal and its groups.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Dict, Iterator, Tuple

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from conftest import HERE, registries, screenshot
from test_console import wait_css

CLIENT_ID = "bindery-console"


@dataclass
class SsoRegistry:
    registry: "registries.Registry"
    issuer: str

    @property
    def url(self) -> str:
        return self.registry.console_uri


@pytest.fixture(scope="module")
def sso() -> Iterator[SsoRegistry]:
    workdir = tempfile.mkdtemp(prefix="bindery-console-sso-")
    console_port, idp_port = registries.free_port(), registries.free_port()
    issuer = f"http://127.0.0.1:{idp_port}"
    idp = registries.Process(
        [shutil.which("node") or "node", os.path.join(HERE, "idp", "provider.mjs"), str(idp_port),
         f"http://127.0.0.1:{console_port}/", CLIENT_ID],
        os.path.join(workdir, "idp.log"),
        idp_port,
    ).start()
    reg = None
    try:
        reg = registries.start_dev(
            workdir,
            auth=True,
            console_port=console_port,
            extra=[
                "--jwt-jwks-url", f"{issuer}/jwks", "--jwt-issuer", issuer, "--jwt-audience", CLIENT_ID,
                "--console-oidc-client-id", CLIENT_ID,
            ],
        )
        reg.processes.append(idp)
        reg.client().create_model("fraud/sso-model", description="seen by fraud reviewers")
        reg.client().create_model("search/hidden", description="nobody in the test may see this")
        # Through the groups claim: everyone the provider signs in is in fraud-reviewers.
        reg.cli("grant", "add", "group:fraud-reviewers", "approver", "--scope", "fraud/")
        yield SsoRegistry(reg, issuer)
    finally:
        for process in (reg.processes if reg else [idp]):
            process.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def post(sso: SsoRegistry, path: str, body: Dict, origin: bool = True) -> Tuple[int, Dict]:
    request = urllib.request.Request(f"{sso.url}{path}", data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if origin:
        request.add_header("Origin", sso.url)
    try:
        with urllib.request.urlopen(request, timeout=15) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def sign_in_at_provider(driver: WebDriver, sso: SsoRegistry, login: str) -> None:
    driver.get(f"{sso.url}/#/models")
    wait_css(driver, "#sso").click()
    # The provider's own pages: its login form, then its consent form.
    login_box = wait_css(driver, "input[name=login]")
    assert driver.current_url.startswith(sso.issuer), driver.current_url
    screenshot(driver, "sso-provider-login")
    login_box.send_keys(login)
    driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys("any password")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_css(driver, "button[type=submit]", "Continue").click()


def test_sign_in_through_the_identity_provider(sso: SsoRegistry, browser: WebDriver) -> None:
    sign_in_at_provider(browser, sso, "carol@example.com")
    wait_css(browser, "#principal", "carol@example.com")
    wait_css(browser, "#models-table", "fraud/sso-model")
    assert "search/hidden" not in browser.find_element(By.ID, "models-table").text
    # The one-time code does not stay in the address bar or the history.
    assert "code=" not in browser.current_url and browser.current_url.endswith("#/models"), browser.current_url
    screenshot(browser, "sso-signed-in")

    # The tab holds the provider's ID token, which the registry accepts on its own (not a
    # console session): same principal over the JSON layer.
    token = browser.execute_script("return sessionStorage.getItem('bindery.token')")
    assert token and token.count(".") == 2
    request = urllib.request.Request(f"{sso.url}/api/v1/WhoAmI", data=b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as res:
        me = json.loads(res.read())
    assert me["principal"] == "carol@example.com"

    # Signing out drops the token; the provider's session signs the next one in again.
    browser.find_element(By.ID, "signout").click()
    wait_css(browser, "#sso")
    assert browser.execute_script("return sessionStorage.getItem('bindery.token')") is None


def test_an_answer_not_started_in_this_tab_is_refused(sso: SsoRegistry, browser: WebDriver) -> None:
    browser.get(f"{sso.url}/?code=stolen-code&state=forged")
    box = wait_css(browser, ".signin .error")
    assert "does not belong to a sign-in started in this tab" in box.text
    assert "code=" not in browser.current_url
    browser.get(f"{sso.url}/?error=access_denied&error_description=the+user+said+no")
    assert "access_denied" in wait_css(browser, ".signin .error").text


def test_the_exchange_checks_its_input_and_the_provider_decides(sso: SsoRegistry) -> None:
    status, config = post(sso, "/api/console/sso", {})
    assert status == 200 and config["sso"]["client_id"] == CLIENT_ID
    assert config["sso"]["authorization_endpoint"].startswith(sso.issuer)
    assert "secret" not in json.dumps(config)

    good = {"code": "x" * 20, "code_verifier": "v" * 43, "nonce": "n" * 43, "redirect_uri": f"{sso.url}/"}
    for field, value, words in [
        ("redirect_uri", "https://evil.example/", "redirect_uri must be this console's address"),
        ("code_verifier", "short", "code_verifier must be 43 to 128"),
        ("code", "", "code must be the authorization code"),
    ]:
        status, err = post(sso, "/api/console/sso/token", {**good, field: value})
        assert (status, err["code"]) == (400, "INVALID_ARGUMENT"), err
        assert words in err["message"], err
    status, err = post(sso, "/api/console/sso/token", good, origin=False)
    assert (status, err["code"]) == (400, "INVALID_ARGUMENT") and "Origin" in err["message"], err
    # A well-formed but made-up code: the provider refuses it, and so does the console.
    status, err = post(sso, "/api/console/sso/token", good)
    assert (status, err["code"]) == (401, "UNAUTHENTICATED"), err
    assert "identity provider refused the sign-in" in err["message"] and "invalid_grant" in err["message"], err
