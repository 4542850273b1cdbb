"""Web apps end to end: the API, the front, the app in its sandbox, and the attacks on each boundary."""
from __future__ import annotations

import asyncio
import base64
import json
import os

import psutil
import pytest

from tests.client import Client
from tests.ide.test_consoles_api import output_until
from tests.ide.test_files_api import BOUNDARY, multipart
from tests.ide.test_sharing import start_console
from tests.ide.webapp_helpers import (
    APP_TIMEOUT,
    IDLE_STOP,
    apps,
    apps_server,
    create_app,
    domain_of,
    eventually,
    log_file,
    owner,
    patch,
    program,
    visit,
    write_app,
    www_file,
)

__all__ = ["apps_server"]

ECHO_APP = '''
import json, os
def application(environ, start_response):
    body = environ["wsgi.input"].read()
    answer = {key: environ.get(key, "") for key in ("HTTP_HOST", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO",
                                                     "HTTP_X_FORWARDED_HOST", "wsgi.url_scheme")}
    answer.update(length=len(body), pid=os.getpid(), method=environ["REQUEST_METHOD"], version=VERSION)
    data = json.dumps(answer).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("X-App", "yes")])
    return [data]
VERSION = 1
'''


@pytest.mark.gen_test(timeout=120)
async def test_create_visit_reload_on_save_and_delete(apps_server):
    alice = owner(apps_server)
    webapp = await create_app(alice)
    assert {key: webapp[key] for key in ("user", "domain_name", "python_version", "source_directory",
                                         "virtualenv_path", "password_protection_password")} == {
        "user": alice.name, "domain_name": domain_of(alice), "python_version": "python311",
        "source_directory": f"/home/{alice.name}", "virtualenv_path": "", "password_protection_password": ""}
    assert isinstance(webapp["id"], int)
    hello = await visit(apps_server, domain_of(alice))
    assert hello.code == 200 and b"Hello from " + domain_of(alice).encode() in hello.body
    # The IDE's own headers are not the app's.
    assert "Content-Security-Policy" not in hello.headers

    write_app(apps_server, alice, ECHO_APP)
    for _ in range(300):  # the watcher notices the save within a second or so
        response = await visit(apps_server, domain_of(alice), "/x?y=1")
        if response.code == 200 and response.body.startswith(b"{"):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the saved WSGI file was not loaded")
    response = await visit(apps_server, domain_of(alice), "/x?y=1", method="POST", body=b"z" * 5_000_000,
                           headers={"X-Forwarded-For": "6.6.6.6"})
    assert response.code == 200 and response.headers["X-App"] == "yes"
    answer = json.loads(response.body)
    assert answer["HTTP_HOST"] == f"{domain_of(alice)}:{apps_server.port}"
    assert answer["HTTP_X_FORWARDED_FOR"] == "127.0.0.1"  # a visitor's own value is not trusted
    assert answer["HTTP_X_FORWARDED_PROTO"] == "http" and answer["length"] == 5_000_000
    first_pid = int(program(apps_server, webapp)["pid"])
    workers = {child.pid for child in psutil.Process(first_pid).children()}

    reloaded = await alice.api.post(apps(alice) + f"{domain_of(alice)}/reload/")
    assert reloaded.status == 200 and reloaded.json() == {"status": "OK"}
    assert int(program(apps_server, webapp)["pid"]) == first_pid  # workers replaced, not the server
    now = {child.pid for child in psutil.Process(first_pid).children()}
    assert now and not now & workers, (workers, now)

    assert (await alice.api.delete(apps(alice) + f"{domain_of(alice)}/")).status == 204
    assert (await alice.api.get(apps(alice) + f"{domain_of(alice)}/")).status == 404
    gone = await visit(apps_server, domain_of(alice))
    assert gone.code == 404 and b"no web app" in gone.body.lower()
    assert www_file(apps_server, alice).exists()  # its files stay


@pytest.mark.gen_test(timeout=60)
async def test_limits_domains_and_versions(apps_server):
    free = owner(apps_server)
    paying = owner(apps_server, "hacker")
    await create_app(free)
    second = await free.api.post(apps(free), {"domain_name": "www.example.com", "python_version": "python311"})
    assert second.status == 400 and "own domain" in second.json()["detail"]
    over = await free.api.post(apps(free), {"domain_name": domain_of(free)})
    assert over.status == 400 and "already exists" in over.json()["detail"]
    taken = await paying.api.post(apps(paying), {"domain_name": domain_of(free)})
    assert taken.status == 400 and "own domain" in taken.json()["detail"]
    inside = await paying.api.post(apps(paying), {"domain_name": f"x.{domain_of(free)}"})
    assert inside.status == 400
    version = await paying.api.post(apps(paying), {"domain_name": domain_of(paying), "python_version": "python27"})
    assert version.status == 400 and "python311" in version.json()["detail"]
    await create_app(paying)
    await create_app(paying, "www.paying-example.com")
    third = await paying.api.post(apps(paying), {"domain_name": "third.example.org"})
    assert third.status == 400 and "limit of 2" in third.json()["detail"]
    assert len((await paying.api.get(apps(paying))).json()) == 2


@pytest.mark.gen_test(timeout=60)
async def test_another_user_cannot_read_change_reload_or_delete_an_app(apps_server):
    alice, mallory = owner(apps_server), owner(apps_server, "hacker")
    webapp = await create_app(alice)
    target = f"{domain_of(alice)}/"
    for method, suffix, body in (("GET", "", None), ("PATCH", "", {"source_directory": f"/home/{mallory.name}"}),
                                 ("DELETE", "", None), ("POST", "reload/", None), ("POST", "disable/", None),
                                 ("GET", "static_files/", None),
                                 ("POST", "static_files/", {"url": "/s/", "path": f"/home/{mallory.name}"})):
        via_own = await mallory.api.request(method, apps(mallory) + target + suffix, body)
        assert via_own.status == 404, (method, suffix, via_own.text)
        via_theirs = await mallory.api.request(method, apps(alice) + target + suffix, body)
        assert via_theirs.status == 403, (method, suffix, via_theirs.text)
    assert (await alice.api.get(apps(alice) + target)).json()["enabled"] is True
    assert (await alice.api.get(apps(alice))).json()[0]["id"] == webapp["id"]
    # Paths outside the owner's home are refused for the owner too.
    for field in ("source_directory", "virtualenv_path"):
        outside = await patch(alice.api, apps(alice) + target, {field: f"/home/{mallory.name}/venv"})
        assert outside.status == 400, outside.text
    escape = await alice.api.post(apps(alice) + target + "static_files/", {"url": "/s/", "path": "/etc"})
    assert escape.status == 400


@pytest.mark.gen_test(timeout=60)
async def test_a_host_reaches_only_its_own_app(apps_server):
    alice, bob = owner(apps_server), owner(apps_server)
    await create_app(alice)
    await create_app(bob)
    write_app(apps_server, bob, 'def application(e, s):\n    s("200 OK", []); return [b"bob"]\n')
    for host in (domain_of(alice), domain_of(alice).upper(), f"{domain_of(alice)}."):
        response = await visit(apps_server, host)
        assert response.code == 200 and b"bob" not in response.body, host
    for host in (f"{bob.name}.localhost.evil", f"{bob.name}x.localhost", f"a.{domain_of(bob)}"):
        response = await visit(apps_server, host)
        assert b"bob" not in response.body, host
    ide = await visit(apps_server, "localhost", "/login/")
    assert ide.code == 200 and b"password" in ide.body.lower()  # the IDE itself


@pytest.mark.gen_test(timeout=120)
async def test_an_app_that_raises_gives_a_plain_page_and_keeps_running(apps_server):
    alice = owner(apps_server)
    webapp = await create_app(alice)
    write_app(apps_server, alice, 'def application(environ, start_response):\n'
                                  '    raise RuntimeError("secret-detail-in-traceback")\n')
    first = await visit(apps_server, domain_of(alice))
    pid = program(apps_server, webapp)["pid"]
    for _ in range(5):
        response = await visit(apps_server, domain_of(alice))
        assert response.code == 500 and b"secret-detail" not in response.body
    assert first.code == 500
    assert program(apps_server, webapp)["pid"] == pid and program(apps_server, webapp)["state"] == "running"
    assert "secret-detail-in-traceback" in log_file(apps_server, alice, "error").read_text()


@pytest.mark.gen_test(timeout=120)
async def test_a_slow_app_gets_504_and_an_unreachable_one_502_without_a_restart(apps_server):
    alice = owner(apps_server)
    webapp = await create_app(alice)
    write_app(apps_server, alice, f'import time\ndef application(e, s):\n    time.sleep({APP_TIMEOUT * 4})\n'
                                  '    s("200 OK", []); return [b"late"]\n')
    slow = await visit(apps_server, domain_of(alice))
    assert slow.code == 504 and b"too long" in slow.body
    pid = program(apps_server, webapp)["pid"]
    socket_path = apps_server.data_dir / "run" / alice.name / f"{webapp['id']}.sock"
    socket_path.unlink()
    unreachable = await visit(apps_server, domain_of(alice))
    assert unreachable.code == 502 and b"did not answer" in unreachable.body
    record = program(apps_server, webapp)
    assert record["pid"] == pid and record["state"] == "running"


@pytest.mark.gen_test(timeout=180)
async def test_a_flood_on_a_broken_app_leaves_the_ide_responsive(apps_server):
    alice = owner(apps_server)
    webapp = await create_app(alice)
    write_app(apps_server, alice, "this is not python(\n")
    console = await start_console(alice)
    floods = [asyncio.ensure_future(visit(apps_server, domain_of(alice))) for _ in range(60)]
    listed = await alice.api.get(apps(alice))
    assert listed.status == 200 and listed.json()[0]["domain_name"] == domain_of(alice)
    typed = await alice.api.post(alice.base() + f"consoles/{console}/send_input/", {"input": "echo $((6*7))-ok\n"})
    assert typed.status == 200
    assert "42-ok" in await output_until(alice.api, alice.name, console, "42-ok")
    answers = await asyncio.gather(*floods)
    assert {answer.code for answer in answers} == {502}
    # "could not start", or "did not answer" while gunicorn had its socket but no worker yet.
    assert all((b"could not start" in answer.body or b"did not answer" in answer.body)
               and b"SyntaxError" not in answer.body for answer in answers)
    starts = log_file(apps_server, alice, "server").read_text().count("started (pid")
    assert starts <= 5, starts  # the first start and its restarts with back-off, not one per visitor
    for _ in range(300):  # gunicorn holds its socket a moment before its worker fails to boot
        status = (await alice.api.get(apps(alice) + f"{domain_of(alice)}/")).json()
        if status["state"] in ("backing off", "failed"):
            break
        await asyncio.sleep(0.1)
    assert "exited with status" in status["last_error"], status
    assert "SyntaxError" in log_file(apps_server, alice, "error").read_text()
    assert program(apps_server, webapp)["owner"] == alice.name
    # Saving a fix starts it again at once, without waiting out the back-off.
    write_app(apps_server, alice, 'def application(e, s):\n    s("200 OK", []); return [b"fixed"]\n')
    for _ in range(300):
        if (await visit(apps_server, domain_of(alice))).body == b"fixed":
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the fixed app did not start")


@pytest.mark.gen_test(timeout=60)
async def test_disabled_apps_and_password_protection(apps_server):
    alice = owner(apps_server)
    await create_app(alice)
    target = apps(alice) + f"{domain_of(alice)}/"
    assert (await visit(apps_server, domain_of(alice))).code == 200
    assert (await alice.api.post(target + "disable/")).json() == {"status": "OK"}
    disabled = await visit(apps_server, domain_of(alice))
    assert disabled.code == 503 and b"disabled" in disabled.body
    assert (await alice.api.get(target)).json()["state"] == "stopped"
    await alice.api.post(target + "enable/")
    assert (await visit(apps_server, domain_of(alice))).code == 200

    changed = await patch(alice.api, target, {"password_protection_enabled": True,
                                              "password_protection_username": "guest",
                                              "password_protection_password": "s3cret"})
    assert changed.status == 200 and changed.json()["password_protection_password"] == ""
    assert (await visit(apps_server, domain_of(alice))).code == 401
    for pair, expected in ((b"guest:wrong", 401), (b"other:s3cret", 401), (b"guest:s3cret", 200)):
        header = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        assert (await visit(apps_server, domain_of(alice), headers=header)).code == expected, pair
    assert (await patch(alice.api, target, {"force_https": "maybe"})).status == 400
    assert (await patch(alice.api, target, {"force_https": True, "password_protection_enabled": False})).status == 200
    redirected = await visit(apps_server, domain_of(alice), "/page?x=1")
    assert redirected.code == 301
    assert redirected.headers["Location"] == f"https://{domain_of(alice)}:{apps_server.port}/page?x=1"
    assert (await patch(alice.api, target, {"domain_name_x": "1"})).status == 400


@pytest.mark.gen_test(timeout=60)
async def test_logs_and_the_wsgi_file_through_the_files_api(apps_server):
    alice, bob = owner(apps_server), owner(apps_server)
    await create_app(alice)
    await create_app(bob)
    await visit(apps_server, domain_of(alice))
    await visit(apps_server, domain_of(bob))
    files = alice.base() + "files/"
    tree = (await alice.api.get(files + "tree/?path=/var/log/")).json()
    assert f"/var/log/{domain_of(alice)}.server.log" in tree
    assert not any(bob.name in path for path in tree)  # /var/log is always the caller's own
    log = await alice.api.get(files + f"path/var/log/{domain_of(alice)}.server.log")
    assert log.status == 200 and b"started (pid" in log.body
    upload = multipart(("content", "x", b"forged\n"))
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    refused = await alice.api.post(files + f"path/var/log/{domain_of(alice)}.access.log", raw_body=upload,
                                   headers=headers)
    assert refused.status == 403 and "not written" in refused.json()["detail"]
    assert (await alice.api.delete(files + f"path/var/log/{domain_of(alice)}.server.log/")).status == 204
    assert not log_file(apps_server, alice, "server").exists()
    assert log_file(apps_server, bob, "server").exists()

    wsgi = f"path/var/www/{domain_of(alice).replace('.', '_')}_wsgi.py"
    assert b"def application" in (await alice.api.get(files + wsgi)).body
    saved = await alice.api.post(files + wsgi, raw_body=multipart((
        "content", "x", b'def application(e, s):\n    s("200 OK", []); return [b"saved through the API"]\n')),
        headers=headers)
    assert saved.status == 200
    for _ in range(300):
        if (await visit(apps_server, domain_of(alice))).body == b"saved through the API":
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("saving the WSGI file did not reload the app")
    # Bob's places are not reachable by naming them.
    assert (await alice.api.get(alice.base() + f"files/path/home/{bob.name}/")).status in (403, 404)
    assert (await alice.api.get(bob.base() + f"files/path/var/log/{domain_of(bob)}.error.log")).status == 403


@pytest.mark.gen_test(timeout=120)
async def test_apps_survive_a_restart_of_the_node_and_stop_all_ends_them(apps_server):
    alice = owner(apps_server)
    webapp = await create_app(alice)
    assert (await visit(apps_server, domain_of(alice))).code == 200
    pid = int(program(apps_server, webapp)["pid"])
    apps_server.stop(keep_programs=True)
    assert psutil.pid_exists(pid)
    apps_server.start()
    again = await visit(apps_server, domain_of(alice))
    assert again.code == 200 and b"Hello from" in again.body
    assert int(program(apps_server, webapp)["pid"]) == pid  # the same program, taken over
    assert "taken over after a restart" in log_file(apps_server, alice, "server").read_text()
    apps_server.stop(keep_programs=True)
    assert "Stopped" in apps_server.stop_programs()
    await eventually(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie",
                     "the app to end")
    apps_server.start()


@pytest.mark.gen_test(timeout=60)
async def test_static_mappings_serve_ranges_and_validators_and_refuse_escapes(apps_server, tmp_path):
    alice = owner(apps_server)
    webapp = await create_app(alice)
    home = apps_server.data_dir / "home" / alice.name
    static = home / "site" / "static"
    static.mkdir(parents=True)
    (static / "a.txt").write_text("abcdefgh")
    (home / "secret.txt").write_text("not mapped")
    root_file = tmp_path / "root-only"
    root_file.write_text("root secret")
    os.symlink("/etc/passwd", static / "passwd")
    os.link(root_file, static / "hard")
    uid, gid = home.stat().st_uid, home.stat().st_gid
    for path in (home / "site", static, static / "a.txt", home / "secret.txt"):
        os.chown(path, uid, gid)
    mapping = await alice.api.post(apps(alice) + f"{domain_of(alice)}/static_files/",
                                   {"url": "/static/", "path": f"/home/{alice.name}/site/static"})
    assert mapping.status == 201 and isinstance(mapping.json()["id"], int)

    whole = await visit(apps_server, domain_of(alice), "/static/a.txt")
    assert whole.code == 200 and whole.body == b"abcdefgh"
    etag, modified = whole.headers["ETag"], whole.headers["Last-Modified"]
    assert (await visit(apps_server, domain_of(alice), "/static/a.txt", headers={"If-None-Match": etag})).code == 304
    assert (await visit(apps_server, domain_of(alice), "/static/a.txt",
                        headers={"If-Modified-Since": modified})).code == 304
    part = await visit(apps_server, domain_of(alice), "/static/a.txt", headers={"Range": "bytes=2-4"})
    assert part.code == 206 and part.body == b"cde" and part.headers["Content-Range"] == "bytes 2-4/8"
    assert (await visit(apps_server, domain_of(alice), "/static/a.txt", headers={"Range": "bytes=9-"})).code == 416
    for attack in ("/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/%252e%252e/secret.txt",
                   "/static/passwd", "/static/hard", "/static/..%2fsecret.txt"):
        response = await visit(apps_server, domain_of(alice), attack)
        assert response.code == 404 and b"root" not in response.body and b"not mapped" not in response.body, attack
    # Static files are the front's: the app itself was never started for them.
    assert program(apps_server, webapp) == {}

SOCKET_SERVER = ("import os, socketserver, http.server\n"
                 "class H(http.server.BaseHTTPRequestHandler):\n"
                 "    def do_GET(self):\n"
                 "        body = b'from a command: ' + self.headers['Host'].encode()\n"
                 "        self.send_response(200); self.send_header('Content-Length', str(len(body)))\n"
                 "        self.end_headers(); self.wfile.write(body)\n"
                 "    def address_string(self): return 'front'\n"
                 "socketserver.UnixStreamServer(os.environ['DOMAIN_SOCKET'], H).serve_forever()\n")


@pytest.mark.gen_test(timeout=60)
async def test_a_website_runs_any_command_on_its_domain_socket(apps_server):
    alice = owner(apps_server, "hacker")
    home = apps_server.data_dir / "home" / alice.name
    home.mkdir(parents=True, exist_ok=True)
    (home / "serve.py").write_text(SOCKET_SERVER)
    websites = f"/api/v1/user/{alice.name}/websites/"
    created = await alice.api.post(websites, {"domain_name": domain_of(alice), "enabled": True,
                                              "webapp": {"command": "python3.11 serve.py"}})
    assert created.status == 201, created.text
    assert created.json() == {
        "domain_name": domain_of(alice), "enabled": True,
        "webapp": {"command": "python3.11 serve.py", "domains": [{"domain_name": domain_of(alice), "cname": None}]},
        "logfiles": {kind: f"/var/log/{domain_of(alice)}.{kind}.log" for kind in ("access", "error", "server")}}
    taken = await alice.api.post(websites, {"domain_name": domain_of(alice), "webapp": {"command": "true"}})
    assert taken.status == 400 and "domain with this domain name already exists" in taken.json()["detail"]
    answer = await visit(apps_server, domain_of(alice))
    assert answer.code == 200 and answer.body == f"from a command: {domain_of(alice)}:{apps_server.port}".encode()
    assert (await alice.api.post(websites + f"{domain_of(alice)}/reload")).status == 200
    assert (await alice.api.get(websites + f"{domain_of(alice)}/")).json()["enabled"] is True
    assert (await alice.api.delete(websites + f"{domain_of(alice)}/")).status == 204
    assert (await alice.api.get(websites)).json() == []


@pytest.mark.gen_test(timeout=60)
async def test_the_web_page_shows_only_your_own_apps(apps_server):
    alice, mallory = owner(apps_server), owner(apps_server)
    await create_app(alice)
    browser = Client(apps_server.url)
    await browser.login(alice.name)
    page = await browser.get(f"/user/{alice.name}/webapps/")
    assert page.status == 200
    assert f'data-webapp="{domain_of(alice)}"' in page.text
    assert f"/user/{alice.name}/files/var/www/{alice.name}_localhost_wsgi.py?edit" in page.text
    assert f"/user/{alice.name}/files/var/log/{domain_of(alice)}.error.log" in page.text
    await browser.login(mallory.name)
    assert (await browser.get(f"/user/{alice.name}/webapps/")).status == 403
    assert domain_of(alice) not in (await browser.get(f"/user/{mallory.name}/webapps/")).text


@pytest.mark.gen_test(timeout=90)
async def test_a_free_accounts_idle_app_stops_and_starts_again_on_the_next_request(apps_server):
    free, paying = owner(apps_server), owner(apps_server, "hacker")
    free_app, paying_app = await create_app(free), await create_app(paying)
    assert (await visit(apps_server, domain_of(free))).code == 200
    assert (await visit(apps_server, domain_of(paying))).code == 200
    first = program(apps_server, free_app)["pid"]
    await eventually(lambda: program(apps_server, free_app)["state"] == "stopped", "the idle app to stop",
                     timeout=IDLE_STOP * 5)
    assert program(apps_server, paying_app)["state"] == "running"
    again = await visit(apps_server, domain_of(free))
    assert again.code == 200 and b"Hello from" in again.body
    assert program(apps_server, free_app)["pid"] != first


@pytest.mark.gen_test(timeout=60)
async def test_head_requests_and_bodies_over_the_limit(apps_server):
    alice = owner(apps_server)
    await create_app(alice)
    head = await visit(apps_server, domain_of(alice), method="HEAD")
    assert head.code == 200 and head.body == b"" and "Etag" not in head.headers
    # Declared over 100 MB: refused from the headers, before a byte of the body is sent.
    reader, writer = await asyncio.open_connection("127.0.0.1", apps_server.port)
    writer.write(f"POST / HTTP/1.1\r\nHost: {domain_of(alice)}\r\nContent-Length: {100 * 1024 * 1024 + 1}\r\n\r\n"
                 .encode())
    status = await reader.readline()
    writer.close()
    assert status.split()[1] == b"413"
