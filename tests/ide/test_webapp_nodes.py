"""A web app on several nodes: each node its visitors reach runs a copy, and what the owner
does on one node (reload, disable, delete) reaches the copies on the others."""
from __future__ import annotations

import asyncio

import psutil
import pytest

from tests.client import Client
from tests.ide.test_sharing import Person
from tests.ide.test_two_nodes import nodes
from tests.ide.webapp_helpers import apps, create_app, domain_of, program, visit, write_app

APP = '''
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"{version}"]
'''


__all__ = ["nodes"]

def copies_of(webapp: dict) -> list[psutil.Process]:
    """The app's gunicorn masters (one per node running a copy)."""
    marker = f"{webapp['id']}@"
    return [process for process in psutil.process_iter(["cmdline"])
            if marker in " ".join(process.info["cmdline"] or []) and "gunicorn" in " ".join(
                process.info["cmdline"] or []) and not any(
                    marker in " ".join(parent.cmdline()) for parent in process.parents())]


async def until(condition, what: str, timeout: float = 30):
    for _ in range(int(timeout / 0.1)):
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.gen_test(timeout=120)
async def test_a_reload_or_a_disable_on_one_node_reaches_the_copy_on_the_other(nodes) -> None:
    first, second = nodes
    name = first.add_user("apn", account_type="hacker")
    token = first.cli("user", "token", name).stdout.strip()
    owner = Person(name, Client(first.url, token=token))
    webapp = await create_app(owner)
    domain = domain_of(owner)
    write_app(first, owner, APP.format(version="one"))
    assert (await visit(first, domain)).body == b"one"
    assert (await visit(second, domain)).body == b"one"
    await until(lambda: len(copies_of(webapp)) == 2, "a copy on each node")

    write_app(first, owner, APP.format(version="two"))
    assert (await owner.api.post(apps(owner) + f"{domain}/reload/")).status == 200
    assert (await visit(first, domain)).body == b"two"
    # The other node's copy follows within moments, with no answer but the old or the new code.
    answers = [(await visit(second, domain)).body for _ in range(3)]
    while answers[-1] != b"two":
        await asyncio.sleep(0.05)
        answers.append((await visit(second, domain)).body)
        assert len(answers) < 200, answers[-5:]
    assert set(answers) <= {b"one", b"two"}

    assert (await owner.api.post(apps(owner) + f"{domain}/disable/")).status == 200
    await until(lambda: not copies_of(webapp), "both copies to stop")
    assert (await visit(second, domain)).code == 503
    assert program(first, webapp) is not None
