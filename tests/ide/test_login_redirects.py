"""``?next=`` after logging in: only paths of this site, whatever browsers forgive."""
from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.client import Client

# Each of these makes Chromium leave the site when it is put in a Location header:
# browsers drop tabs and newlines, read backslashes as slashes and take
# "scheme:host" as absolute.
OFF_SITE = [
    "/\t/evil.example/phish",            # what ?next=/%09/evil.example/phish decodes to
    "/\n/evil.example/phish",
    "/\r\n/evil.example/",
    "\t//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\\/evil.example/",
    "//evil.example/",
    "///evil.example/",
    "https:evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "/\x0b/evil.example/",
    "/\x7f/evil.example/",
    "/\u3000/evil.example/",             # an ideographic space
    "/\u2028/evil.example/",             # a line separator
    "/\u00a0/evil.example/",             # a no-break space
    "",
]


async def _logged_in(ide_server) -> Client:
    client = Client(ide_server.url)
    await client.login(ide_server.add_user())
    return client


@pytest.mark.gen_test
@pytest.mark.parametrize("target", OFF_SITE)
async def test_login_form_post_never_redirects_off_site(ide_server, target):
    name = ide_server.add_user()
    client = Client(ide_server.url)
    await client.get("/login/")
    response = await client.post("/login/", form={"username": name, "password": "correct horse",
                                                  "next": target})
    assert response.status == 302
    assert response.headers["Location"] == "/"


@pytest.mark.gen_test
@pytest.mark.parametrize("target", OFF_SITE)
async def test_login_get_when_logged_in_never_redirects_off_site(ide_server, target):
    client = await _logged_in(ide_server)
    response = await client.get("/login/?" + urlencode({"next": target}))
    assert response.status == 302
    assert response.headers["Location"] == "/"


@pytest.mark.gen_test
@pytest.mark.parametrize("target", OFF_SITE)
async def test_login_page_keeps_no_off_site_target_in_its_form(ide_server, target):
    response = await Client(ide_server.url).get("/login/?" + urlencode({"next": target}))
    assert response.status == 200
    assert 'name="next" value="/"' in response.text


@pytest.mark.gen_test
async def test_paths_of_the_site_are_kept(ide_server):
    client = await _logged_in(ide_server)
    for target, location in [("/account/", "/account/"),
                             ("/user/a/files/home/a/x.py?edit", "/user/a/files/home/a/x.py?edit"),
                             ("/user/a/files/home/a/caf\u00e9.py", "/user/a/files/home/a/caf%C3%A9.py"),
                             ("/user/a/files/home/a/100%25.py", "/user/a/files/home/a/100%25.py")]:
        response = await client.get("/login/?" + urlencode({"next": target}))
        assert response.headers["Location"] == location
