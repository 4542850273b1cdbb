"""``schedule/``: scheduled tasks through the API: shapes, limits, bad input, other users."""
from __future__ import annotations

import asyncio

import pytest

from tests.client import Client


async def client_for(ide_server, account_type: str = "hacker") -> tuple[str, Client]:
    name = ide_server.add_user("sched", account_type=account_type)
    token = ide_server.cli("user", "token", name).stdout.strip()
    return name, Client(ide_server.url, token=token)


@pytest.mark.gen_test
async def test_a_task_is_created_listed_changed_and_deleted(ide_server):
    name, client = await client_for(ide_server)
    base = f"/api/v0/user/{name}/schedule/"
    created = await client.post(base, {"command": "python3 ~/backup.py", "interval": "daily",
                                       "hour": 6, "minute": 5, "description": "nightly backup"})
    assert created.status == 201, created.text
    task = created.json()
    assert task["printable_time"] == "06:05" and task["interval"] == "daily"
    assert task["url"] == f"{base}{task['id']}/" and task["user"] == name
    assert task["logfile"] == f"/var/log/schedule-log-{task['id']}.log"
    assert task["expiry"] is None and task["can_enable"] is True and task["enabled"] is True
    assert task["next_run"].endswith("06:05:00+00:00")

    changed = await client.patch(f"{base}{task['id']}/", {"interval": "hourly", "minute": 30})
    assert changed.status == 200, changed.text
    assert (changed.json()["printable_time"], changed.json()["hour"]) == ("*:30", None)
    assert [t["id"] for t in (await client.get(base)).json()] == [task["id"]]

    assert (await client.patch(f"{base}{task['id']}/", {"enabled": False})).json()["next_run"] is None
    assert int(task["id"]) not in [int(i) for i in ide_server.redis_call("ZRANGE", "ide:tasks:due", "0", "-1")]

    assert (await client.delete(f"{base}{task['id']}/")).status == 204
    assert (await client.get(f"{base}{task['id']}/")).status == 404
    assert (await client.get(base)).json() == []


@pytest.mark.gen_test
async def test_form_encoded_posts_work_like_json(ide_server):
    name, client = await client_for(ide_server)
    created = await client.post(f"/api/v0/user/{name}/schedule/",
                                form={"command": "echo hi", "interval": "hourly", "minute": "7",
                                      "enabled": "false"})
    assert created.status == 201, created.text
    assert (created.json()["minute"], created.json()["enabled"]) == (7, False)


BAD_TASKS = [
    ({"command": "echo", "interval": "daily", "hour": 24, "minute": 0}, "hour must be from 0 to 23"),
    ({"command": "echo", "interval": "daily", "hour": 3, "minute": 60}, "minute must be from 0 to 59"),
    ({"command": "echo", "interval": "daily", "hour": 3, "minute": -1}, "minute must be from 0 to 59"),
    ({"command": "echo", "interval": "daily", "hour": True, "minute": 1}, "hour must be a whole number"),
    ({"command": "echo", "interval": "daily", "minute": 1}, "needs an hour"),
    ({"command": "echo", "interval": "weekly", "hour": 1, "minute": 1}, 'interval must be "daily" or "hourly"'),
    ({"command": "   ", "interval": "hourly", "minute": 1}, "command must be a non-empty string"),
    ({"command": "echo a\0b", "interval": "hourly", "minute": 1}, "NUL"),
    ({"command": ["echo"], "interval": "hourly", "minute": 1}, "command must be a non-empty string"),
    ({"interval": "hourly", "minute": 1}, "command is required"),
    ({"command": "echo", "interval": "hourly", "minute": 1, "enabled": "maybe"}, "enabled must be true or false"),
    ({"command": "echo", "interval": "hourly", "minute": 1, "description": "a\nb"}, "one line"),
]


@pytest.mark.gen_test
@pytest.mark.parametrize("body, message", BAD_TASKS)
async def test_bad_tasks_get_a_400_that_says_why_and_nothing_is_stored(ide_server, body, message):
    name, client = await client_for(ide_server)
    response = await client.post(f"/api/v0/user/{name}/schedule/", body)
    assert response.status == 400, response.text
    assert message in response.json()["detail"]
    assert (await client.get(f"/api/v0/user/{name}/schedule/")).json() == []


@pytest.mark.gen_test
async def test_a_bad_change_is_refused_and_the_task_is_unchanged(ide_server):
    name, client = await client_for(ide_server)
    base = f"/api/v0/user/{name}/schedule/"
    task = (await client.post(base, {"command": "echo", "interval": "hourly", "minute": 1})).json()
    for change, message in [({"minute": 99}, "minute"), ({"colour": "red"}, "unknown field: colour"),
                            ({"interval": "daily"}, "needs an hour")]:
        response = await client.patch(f"{base}{task['id']}/", change)
        assert response.status == 400 and message in response.json()["detail"]
    assert (await client.get(f"{base}{task['id']}/")).json() == task
    for wrong in ("abc", "1e3", "-1", "99999999999999999999"):
        assert (await client.get(f"{base}{wrong}/")).status == 404


@pytest.mark.gen_test
async def test_free_accounts_have_one_task_that_expires_and_can_be_extended(ide_server):
    name, client = await client_for(ide_server, "free")
    base = f"/api/v0/user/{name}/schedule/"
    task = (await client.post(base, {"command": "echo", "interval": "hourly", "minute": 1})).json()
    assert task["expiry"] is not None and task["extend_url"] == f"{base}{task['id']}/extend/"
    second = await client.post(base, {"command": "echo", "interval": "hourly", "minute": 2})
    assert second.status == 400 and "can have 1 scheduled task" in second.json()["detail"]
    extended = await client.post(task["extend_url"])
    assert extended.status == 200 and extended.json()["expiry"] >= task["expiry"]


@pytest.mark.gen_test
async def test_the_limit_holds_when_tasks_are_created_at_once(ide_server):
    name, client = await client_for(ide_server, "free")
    base = f"/api/v0/user/{name}/schedule/"
    answers = await asyncio.gather(*(client.post(base, {"command": f"echo {i}", "interval": "hourly",
                                                        "minute": i}) for i in range(8)))
    assert sorted(a.status for a in answers) == [201] + [400] * 7
    assert len((await client.get(base)).json()) == 1


@pytest.mark.gen_test
async def test_another_user_can_neither_see_nor_change_a_task(ide_server):
    owner, owner_client = await client_for(ide_server)
    intruder, intruder_client = await client_for(ide_server)
    task = (await owner_client.post(f"/api/v0/user/{owner}/schedule/",
                                    {"command": "echo mine", "interval": "hourly", "minute": 1})).json()
    for method, body in (("GET", None), ("PATCH", {"command": "id > ~/pwned"}), ("DELETE", None)):
        response = await intruder_client.request(method, f"/api/v0/user/{owner}/schedule/{task['id']}/", body)
        assert response.status == 403
        # Through their own URL, the other user's id names nothing.
        response = await intruder_client.request(method, f"/api/v0/user/{intruder}/schedule/{task['id']}/", body)
        assert response.status == 404
    assert (await intruder_client.post(f"/api/v0/user/{intruder}/schedule/{task['id']}/extend/")).status == 404
    assert (await owner_client.get(f"/api/v0/user/{owner}/schedule/{task['id']}/")).json() == task
