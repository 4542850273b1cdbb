"""A change of account type fits everything the user runs to the new type at once:
always-on tasks over the limit stop, scheduled tasks and web apps over it are disabled
(never deleted), free tasks expire; an upgrade lets them be enabled again."""
from __future__ import annotations

import pytest

from tests.ide.test_sharing import person
from tests.ide.webapp_helpers import apps, apps_server, create_app, eventually, program, visit
from tests.tasks.test_always_on import processes_named

__all__ = ["apps_server"]


@pytest.mark.gen_test(timeout=120)
async def test_a_downgrade_disables_what_is_over_the_new_limits_and_an_upgrade_allows_it_again(apps_server):
    who = person(apps_server, "typ", account_type="web_developer")
    base = who.base()
    markers = [f"bot{n}-{who.name}" for n in range(2)]
    bots = [(await who.api.post(base + "always_on/", {"command": f"exec -a {m} sleep 1000"})).json()
            for m in markers]
    tasks = [(await who.api.post(base + "schedule/", {"command": f"echo {n}", "interval": "hourly",
                                                      "minute": n})).json() for n in range(3)]
    sites = [await create_app(who, f"{who.name}.localhost"), await create_app(who, f"www.{who.name}-site.com")]
    for site in sites:
        assert (await visit(apps_server, site["domain_name"])).code == 200
    await eventually(lambda: all(processes_named(m) for m in markers), "both bots running")

    apps_server.cli("user", "set", who.name, "--type", "free")

    # Free accounts have no always-on tasks: both stop, and stay listed.
    await eventually(lambda: not any(processes_named(m) for m in markers), "the bots stopped")
    listed = (await who.api.get(base + "always_on/")).json()
    assert [(b["enabled"], b["state"]) for b in listed] == [(False, "stopped")] * 2
    # One scheduled task stays enabled (the oldest), the others are disabled; all now expire.
    shown = (await who.api.get(base + "schedule/")).json()
    assert [t["enabled"] for t in shown] == [True, False, False]
    assert all(t["expiry"] for t in shown)
    # One web app stays; the newer one is disabled, its visitors get the disabled page, its program stops.
    listed_apps = {a["domain_name"]: a for a in (await who.api.get(apps(who))).json()}
    assert listed_apps[sites[0]["domain_name"]]["enabled"] and not listed_apps[sites[1]["domain_name"]]["enabled"]
    await eventually(lambda: program(apps_server, sites[1]).get("state") == "stopped", "the app stopped")
    assert (await visit(apps_server, sites[1]["domain_name"])).code != 200

    # Enabling beyond the free limits is refused with the reason.
    refused = await who.api.post(f"{apps(who)}{sites[1]['domain_name']}/enable/")
    assert refused.status == 400 and "disable another one or upgrade" in refused.json()["detail"]

    apps_server.cli("user", "set", who.name, "--type", "web_developer")
    assert all(t["expiry"] is None for t in (await who.api.get(base + "schedule/")).json())
    assert (await who.api.post(f"{apps(who)}{sites[1]['domain_name']}/enable/")).status == 200
    assert (await visit(apps_server, sites[1]["domain_name"])).code == 200
    enabled = await who.api.request("PATCH", bots[0]["url"], {"enabled": True})
    assert enabled.status == 200
    await eventually(lambda: processes_named(markers[0]), "the bot running again")
    for task in tasks:
        assert (await who.api.delete(task["url"])).status == 204
    for bot in bots:
        assert (await who.api.delete(bot["url"])).status == 204
