"""An app that raised: visitors get a plain page, its owner the traceback from the error log.

The apps' domains are other origins than the IDE's, so the owner proves
who they are there through a signed pass the IDE hands out
(``ide/webapps/owner_pass.py``), which the front turns into an HttpOnly
cookie of that one domain.  These tests perform the attacks: another
user, a pass replayed on another domain or a second time, an expired or
altered one, another domain's cookie.
"""
from __future__ import annotations

import html
import re
import time
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from tornado.httpclient import HTTPResponse

from ide.webapps.owner_pass import OwnerPasses
from tests.client import Client
from tests.ide.test_sharing import Person
from tests.ide.webapp_helpers import apps_server, create_app, domain_of, log_file, owner, visit, write_app
from tests.server import ServerProcess

__all__ = ["apps_server"]

APP = '''
def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/boom":
        return [str(1 / 0).encode()]
    if path == "/later":
        def pieces():
            raise KeyError("raised while making the first piece")
            yield b""
        start_response("200 OK", [("Content-Type", "text/plain")])
        return pieces()
    if path == "/own500":
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"the app's own error page\\n"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("cookies: " + environ.get("HTTP_COOKIE", "")).encode()]
'''


async def app_owner(server: ServerProcess) -> tuple[Person, str]:
    who = owner(server, "hacker")
    await create_app(who)
    write_app(server, who, APP)
    return who, domain_of(who)


def sign_in_link(page: HTTPResponse) -> str:
    match = re.search(rb'href="([^"]+)"', page.body)
    assert match, page.body
    return match.group(1).decode().replace("&amp;", "&")


async def logged_in(server: ServerProcess, who: Person) -> Client:
    client = Client(server.url)
    await client.login(who.name)
    return client


async def pass_redirect(server: ServerProcess, client: Client, domain: str, next_path: str) -> str:
    """The IDE's answer to "owner? sign in": where it sends the browser (the app's domain, with a pass)."""
    answer = await client.get("/webapps/owner-pass/?" + urlencode({"domain": domain, "next": next_path}))
    assert answer.status == 302, answer.text
    return answer.raw.headers["Location"]


async def redeem(server: ServerProcess, location: str) -> HTTPResponse:
    parts = urlsplit(location)
    return await visit(server, parts.hostname or "", f"{parts.path}?{parts.query}")


def owner_cookie(answer: HTTPResponse) -> str:
    cookies = [SimpleCookie(header) for header in answer.headers.get_list("Set-Cookie")]
    assert [name for cookie in cookies for name in cookie] == ["ide_app_owner"], cookies
    header = answer.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Domain" not in header, header
    return f"ide_app_owner={cookies[0]['ide_app_owner'].value}"


@pytest.mark.gen_test(timeout=120)
async def test_visitors_get_a_plain_page_and_the_signed_in_owner_the_traceback(apps_server) -> None:
    who, domain = await app_owner(apps_server)
    page = await visit(apps_server, domain, "/boom")
    assert page.code == 500
    assert b"Something went wrong" in page.body
    assert b"Traceback" not in page.body and b"ZeroDivisionError" not in page.body
    assert "X-Ide-App-Error" not in page.headers
    error_log = log_file(apps_server, who, "error").read_text()
    assert "ZeroDivisionError: division by zero" in error_log and "incident" in error_log

    link = sign_in_link(page)
    assert urlsplit(link).path == "/webapps/owner-pass/" and parse_qs(urlsplit(link).query) == {
        "domain": [domain], "next": ["/boom"]}
    client = await logged_in(apps_server, who)
    location = await pass_redirect(apps_server, client, domain, "/boom")
    assert location.startswith(f"http://{domain}:{apps_server.port}/_ide/owner-sign-in?token=")
    signed_in = await redeem(apps_server, location)
    assert signed_in.code == 302 and signed_in.headers["Location"] == "/boom"
    cookie = owner_cookie(signed_in)

    seen = await visit(apps_server, domain, "/boom", headers={"Cookie": cookie})
    assert seen.code == 500
    traceback = re.search(rb'<pre id="traceback">(.*?)</pre>', seen.body, re.S)
    assert traceback and b"ZeroDivisionError: division by zero" in traceback.group(1)
    assert html.unescape(traceback.group(1).decode()) in error_log
    assert "wsgi_launcher" not in traceback.group(1).decode() and '"<string>"' not in html.unescape(
        traceback.group(1).decode())

    # Raised while making the first piece of the answer: an incident too.
    later = await visit(apps_server, domain, "/later", headers={"Cookie": cookie})
    assert later.code == 500 and b"raised while making the first piece" in later.body
    assert b"raised while making" not in (await visit(apps_server, domain, "/later")).body

    # The app's own 500 page is its answer, passed on unchanged, for everyone.
    own = await visit(apps_server, domain, "/own500", headers={"Cookie": cookie})
    assert own.code == 500 and own.body == b"the app's own error page\n"

    # The owner cookie is the front's: the app never sees it.
    echoed = await visit(apps_server, domain, "/", headers={"Cookie": f"{cookie}; theirs=1"})
    assert echoed.body == b"cookies: theirs=1"

    # A pass works once.
    assert (await redeem(apps_server, location)).code == 403


@pytest.mark.gen_test(timeout=120)
async def test_no_one_else_gets_a_pass_and_neither_passes_nor_cookies_cross_domains(apps_server) -> None:
    alice, alice_domain = await app_owner(apps_server)
    mallory, mallory_domain = await app_owner(apps_server)
    mallory_client = await logged_in(apps_server, mallory)

    refused = await mallory_client.get(f"/webapps/owner-pass/?domain={alice_domain}&next=/boom")
    assert refused.status == 404 and "Location" not in refused.raw.headers

    # Mallory's own pass, replayed on Alice's domain.
    location = await pass_redirect(apps_server, mallory_client, mallory_domain, "/boom")
    replayed = location.replace(f"//{mallory_domain}:", f"//{alice_domain}:")
    answer = await redeem(apps_server, replayed)
    assert answer.code == 403 and not answer.headers.get_list("Set-Cookie")
    # Spent on her own domain, her cookie shows nothing on Alice's.
    cookie = owner_cookie(await redeem(apps_server, location))
    assert b"ZeroDivisionError" in (await visit(apps_server, mallory_domain, "/boom", headers={"Cookie": cookie})).body
    alice_page = await visit(apps_server, alice_domain, "/boom", headers={"Cookie": cookie})
    assert alice_page.code == 500 and b"ZeroDivisionError" not in alice_page.body

    # Not logged in: the IDE asks for a login first, and hands out nothing.
    stranger = Client(apps_server.url)
    anonymous = await stranger.get(f"/webapps/owner-pass/?domain={alice_domain}&next=/boom")
    assert anonymous.status == 302 and anonymous.raw.headers["Location"].startswith("/login/")
    # Logging in there leads back to the pass (for the owner, once logged in).
    back = parse_qs(urlsplit(anonymous.raw.headers["Location"]).query)["next"][0]
    await stranger.get("/login/")
    login = await stranger.post("/login/", form={"username": alice.name, "password": "correct horse", "next": back})
    assert login.status == 302 and login.raw.headers["Location"] == back
    assert (await pass_redirect(apps_server, stranger, alice_domain, "/boom")).startswith(f"http://{alice_domain}:")

    # A pass that would send the owner on to another site goes to "/" instead.
    alice_client = await logged_in(apps_server, alice)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        location = await pass_redirect(apps_server, alice_client, alice_domain, target)
        assert parse_qs(urlsplit(location).query)["next"] == ["/"]


@pytest.mark.gen_test(timeout=120)
async def test_an_expired_or_altered_pass_is_refused(apps_server) -> None:
    who, domain = await app_owner(apps_server)
    secret = apps_server.redis_call("GET", "ide:secret:cookie")
    passes = OwnerPasses(secret, None)  # type: ignore[arg-type]  # issuing needs no Redis
    expired = passes.issue(domain, who.name, now=time.time() - 120)
    answer = await visit(apps_server, domain, f"/_ide/owner-sign-in?token={expired}&next=/boom")
    assert answer.code == 403 and not answer.headers.get_list("Set-Cookie")

    fresh = passes.issue(domain, who.name)
    body, _, mac = fresh.partition(".")
    altered = f"{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{mac}"
    assert (await visit(apps_server, domain, f"/_ide/owner-sign-in?token={altered}&next=/")).code == 403
    # The same pass, unaltered, works (the secret is the server's).
    assert (await visit(apps_server, domain, f"/_ide/owner-sign-in?token={fresh}&next=/")).code == 302
