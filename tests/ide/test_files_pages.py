"""The Files pages through the real server: listings, downloads, the editor,
and share links from creation to withdrawal."""
from __future__ import annotations

import html
from pathlib import Path

import pytest

from tests.client import Client


class Person:
    """A logged-in browser-like client plus an API token client for set-up."""

    def __init__(self, server, name: str) -> None:
        self.name = name
        self.browser = Client(server.url)
        self.api = Client(server.url, token=server.cli("user", "token", name).stdout.strip())
        self.home = Path(server.data_dir) / "home" / name
        self.files_url = f"/user/{name}/files/home/{name}"

    async def login(self) -> Person:
        await self.browser.login(self.name)
        return self

    async def put(self, relative: str, text: str) -> None:
        response = await self.api.put(f"/api/v0/user/{self.name}/files/path/home/{self.name}/{relative}",
                                      {"content": text})
        assert response.status in (200, 201), response.text


@pytest.fixture
def carol(ide_server) -> Person:
    return Person(ide_server, ide_server.add_user("carol"))


@pytest.mark.gen_test(timeout=60)
async def test_directory_listing_download_and_editor_pages(ide_server, carol):
    await carol.login()
    await carol.put("proj/main.py", "answer = 42\n")
    await carol.put("proj/notes.txt", "plain notes\n")
    listing = await carol.browser.get(f"{carol.files_url}/proj/")
    assert listing.status == 200, listing.text
    assert "main.py" in listing.text and "notes.txt" in listing.text
    download = await carol.browser.get(f"{carol.files_url}/proj/main.py")
    assert download.status == 200 and download.body == b"answer = 42\n"
    assert download.headers["Content-Disposition"].startswith("attachment")
    editor = await carol.browser.get(f"{carol.files_url}/proj/main.py?edit")
    assert editor.status == 200 and "answer = 42" in html.unescape(editor.text)


@pytest.mark.gen_test(timeout=60)
async def test_file_page_addresses_redirect_to_their_canonical_form(ide_server, carol):
    await carol.login()
    await carol.put("dir/x.py", "")
    home = await carol.browser.get(f"/user/{carol.name}/files/")
    assert home.status == 302 and home.headers["Location"] == f"{carol.files_url}/"
    no_slash = await carol.browser.get(f"{carol.files_url}/dir")
    assert no_slash.status == 302 and no_slash.headers["Location"] == f"{carol.files_url}/dir/"
    other_owner = await carol.browser.get(f"/user/someone/files/home/{carol.name}/dir/x.py?edit")
    assert other_owner.status == 302
    assert other_owner.headers["Location"] == f"{carol.files_url}/dir/x.py?edit"
    anonymous = await Client(ide_server.url).get(f"{carol.files_url}/dir/")
    assert anonymous.status == 302 and anonymous.headers["Location"].startswith("/login/")


@pytest.mark.gen_test(timeout=60)
async def test_pages_of_other_homes_and_missing_files_are_not_found(ide_server, carol):
    await carol.login()
    dave = ide_server.add_user("dave")
    assert (await carol.browser.get(f"/user/{carol.name}/files/home/{dave}/")).status == 404
    assert (await carol.browser.get(f"{carol.files_url}/missing.py?edit")).status == 404
    assert (await carol.browser.get(f"{carol.files_url}/a/%2e%2e/%2e%2e/{dave}/")).status == 400


@pytest.mark.gen_test(timeout=60)
async def test_binary_and_big_files_open_as_download_offers(ide_server, carol):
    await carol.login()
    carol.home.mkdir(parents=True, exist_ok=True)
    (carol.home / "image.dat").write_bytes(b"\x89PNG\0\0\0")
    (carol.home / "huge.txt").write_bytes(b"y" * (5 * 1024 * 1024 + 1))
    for name in ("image.dat", "huge.txt"):
        page = await carol.browser.get(f"{carol.files_url}/{name}?edit")
        assert page.status == 200 and f"{carol.files_url}/{name}" in page.text


@pytest.mark.gen_test(timeout=60)
async def test_share_link_lifecycle_with_anonymous_view_and_copies(ide_server, carol):
    await carol.login()
    erin = await Person(ide_server, ide_server.add_user("erin")).login()
    await carol.put("lesson.py", "total = 6 * 7\n")
    path = f"/home/{carol.name}/lesson.py"
    sharing = f"/api/v0/user/{carol.name}/files/sharing/"
    created = await carol.api.post(sharing, {"path": path})
    assert created.status == 201
    url = created.json()["url"]
    assert (await carol.api.post(sharing, {"path": path})).status == 200

    anonymous = Client(ide_server.url)
    view = await anonymous.get(url)
    assert view.status == 200 and "total = 6 * 7" in html.unescape(view.text)
    await carol.put("lesson.py", "total = 6 * 9\n")  # the link shows the file as it is now
    assert "total = 6 * 9" in html.unescape((await anonymous.get(url)).text)
    refused = await anonymous.post(url, form={})
    assert refused.status in (302, 403)

    await erin.put("lesson.py", "erin's own\n")
    await erin.browser.get(url)  # picks up the XSRF cookie like a browser would
    no_xsrf = await erin.browser.post(url, form={}, xsrf=False)
    assert no_xsrf.status == 403
    copied = await erin.browser.post(url, form={})
    assert copied.status == 200 and f"/home/{erin.name}/lesson (1).py" in html.unescape(copied.text)
    await erin.browser.post(url, form={})
    assert (erin.home / "lesson.py").read_text() == "erin's own\n"
    assert (erin.home / "lesson (1).py").read_text() == "total = 6 * 9\n"
    assert (erin.home / "lesson (2).py").exists()

    wrong_owner = url.replace(f"/user/{carol.name}/", f"/user/{erin.name}/")
    assert (await anonymous.get(wrong_owner)).status == 404
    assert (await carol.api.delete(f"{sharing}?path={path}")).status == 204
    assert (await anonymous.get(url)).status == 404
    assert (await erin.browser.post(url, form={})).status == 404


@pytest.mark.gen_test(timeout=60)
async def test_a_shared_file_deleted_or_moved_gives_404(ide_server, carol):
    await carol.login()
    await carol.put("gone.py", "x = 1\n")
    await carol.put("moved.py", "y = 2\n")
    sharing = f"/api/v0/user/{carol.name}/files/sharing/"
    gone = (await carol.api.post(sharing, {"path": f"/home/{carol.name}/gone.py"})).json()["url"]
    moved = (await carol.api.post(sharing, {"path": f"/home/{carol.name}/moved.py"})).json()["url"]
    (carol.home / "gone.py").unlink()  # deleted from a console: the link finds nothing
    assert (await Client(ide_server.url).get(gone)).status == 404
    await carol.api.post(f"/api/v0/user/{carol.name}/files/rename/",
                         {"from": f"/home/{carol.name}/moved.py", "to": f"/home/{carol.name}/new.py"})
    await carol.put("moved.py", "a different file now\n")
    assert (await Client(ide_server.url).get(moved)).status == 404
    assert (await carol.api.get(f"{sharing}?path=/home/{carol.name}/moved.py")).status == 404
