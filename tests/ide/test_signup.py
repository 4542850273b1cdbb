"""Sign-up on a server started with --allow-signup --secure-cookies."""
from __future__ import annotations

import shutil

import pytest

from tests.client import Client
from tests.server import UNISOLATED, ServerProcess, reachable_dir


@pytest.fixture(scope="module")
def open_server():
    data_dir = reachable_dir("ide-test-signup-")
    try:
        server = ServerProcess(data_dir, *UNISOLATED, "--allow-signup", "--secure-cookies").start()
        yield server
        server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.gen_test
async def test_signup_with_teacher_logs_in_with_secure_cookie(open_server):
    teacher = open_server.add_user("t")
    client = Client(open_server.url)
    page = await client.get("/signup/")
    assert page.status == 200 and 'name="teacher"' in page.text
    response = await client.post("/signup/", form={"username": "NewLearner", "password": "long enough",
                                                   "password2": "long enough", "teacher": teacher})
    assert response.status == 302
    cookie = next(h for h in response.headers.get_list("Set-Cookie") if h.startswith("ide_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert open_server.redis_call("HGET", "ide:user:newlearner", "teacher") == teacher
    # Signing up names a teacher: a request the teacher has still to accept.
    assert open_server.redis_call("SMEMBERS", f"ide:teacher:{teacher}:pending") == {"newlearner"}
    assert open_server.redis_call("SMEMBERS", f"ide:teacher:{teacher}:students") == set()


@pytest.mark.gen_test
@pytest.mark.parametrize("form, message", [
    ({"username": "x y", "password": "long enough", "password2": "long enough"}, "invalid username"),
    ({"username": "okname", "password": "long enough", "password2": "different!"}, "The two passwords differ."),
    ({"username": "okname", "password": "short", "password2": "short"}, "at least 8 characters"),
    ({"username": "okname2", "password": "long enough", "password2": "long enough", "teacher": "ghost_t"},
     "no user named"),
])
async def test_signup_errors_are_shown_and_nothing_is_created(open_server, form, message):
    client = Client(open_server.url)
    await client.get("/signup/")
    response = await client.post("/signup/", form=form)
    assert response.status == 400 and message in response.text
    assert "ide_session" not in client.cookies
    assert not open_server.redis_call("EXISTS", "ide:user:okname")
    assert not open_server.redis_call("EXISTS", "ide:user:okname2")


@pytest.mark.gen_test
async def test_signup_refuses_a_taken_name(open_server):
    name = open_server.add_user()
    client = Client(open_server.url)
    await client.get("/signup/")
    response = await client.post("/signup/", form={"username": name, "password": "long enough",
                                                   "password2": "long enough"})
    assert response.status == 400 and "is taken" in response.text
