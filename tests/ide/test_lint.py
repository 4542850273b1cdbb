"""pyflakes for the editor: through the API of the real server, and the pool's limits."""
from __future__ import annotations

import pytest

from ide.files.errors import LintUnavailable, TooLarge
from ide.files.lint import Linter, check_code
from tests.client import Client


@pytest.fixture
def linting(ide_server):
    name = ide_server.add_user("linter")
    return name, Client(ide_server.url, token=ide_server.cli("user", "token", name).stdout.strip())


@pytest.mark.gen_test(timeout=60)
async def test_lint_reports_pyflakes_messages_with_positions(linting):
    name, client = linting
    response = await client.post(f"/api/v0/user/{name}/lint/",
                                 {"code": "import os\n\ndef f():\n    return undefined_thing\n"})
    assert response.status == 200, response.text
    assert response.json() == [
        {"line": 1, "col": 0, "message": "'os' imported but unused", "severity": "warning"},
        {"line": 4, "col": 11, "message": "undefined name 'undefined_thing'", "severity": "warning"},
    ]


@pytest.mark.gen_test(timeout=60)
async def test_lint_reports_syntax_errors_as_errors(linting):
    name, client = linting
    problems = (await client.post(f"/api/v0/user/{name}/lint/", {"code": "x = 1\nif x\n    pass\n"})).json()
    assert len(problems) == 1
    [problem] = problems
    assert problem["severity"] == "error" and problem["line"] == 2 and problem["col"] == 4
    assert "expected ':'" in problem["message"]
    assert (await client.post(f"/api/v0/user/{name}/lint/", {"code": "print('fine')\n"})).json() == []


@pytest.mark.gen_test(timeout=60)
async def test_lint_refuses_code_over_the_size_cap_and_bad_requests(linting):
    name, client = linting
    big = await client.post(f"/api/v0/user/{name}/lint/", {"code": "x = 1\n" * 100_000})
    assert big.status == 413 and "KB" in big.json()["detail"]
    huge = await client.post(f"/api/v0/user/{name}/lint/", {"code": "y" * 1_500_000})
    assert huge.status == 413 and "512 KB" in huge.json()["detail"]
    assert (await client.post(f"/api/v0/user/{name}/lint/", {"source": "x"})).status == 400
    assert (await client.post("/api/v0/user/other/lint/", {"code": "x"})).status == 403
    assert (await Client(client.base_url).post(f"/api/v0/user/{name}/lint/", {"code": "x"})).status == 401


@pytest.mark.gen_test(timeout=60)
async def test_the_pool_stops_a_check_that_runs_out_of_time():
    linter = Linter(workers=1, timeout=0.001)
    try:
        with pytest.raises(LintUnavailable, match="longer than"):
            await linter.lint("value = 1\n" * 40_000)
    finally:
        linter.close()


@pytest.mark.gen_test(timeout=60)
async def test_the_pool_checks_in_a_worker_and_enforces_its_cap():
    linter = Linter(workers=1, max_bytes=100)
    try:
        assert await linter.lint("import sys\n") == [
            {"line": 1, "col": 0, "message": "'sys' imported but unused", "severity": "warning"}]
        with pytest.raises(TooLarge):
            await linter.lint("#" * 101)
    finally:
        linter.close()


def test_source_that_cannot_be_parsed_at_all_is_one_error():
    [problem] = check_code("a = 1\n\0\n")
    assert problem["severity"] == "error" and problem["line"] == 1
