"""Page weight: what the console page costs a browser on a slow link.

Starts a real ``ide serve`` (sandbox off) on 127.0.0.1 with a fresh data
directory, makes a user with one Bash console, and opens that console's page
in Debian's Chromium through Playwright, with the network throttled by the
DevTools protocol (``Network.emulateNetworkConditions``: 1.6 Mbit/s each way,
150 ms round trip, like a slow mobile link). For the first load (empty cache)
and then a repeat load in the same browser context it reports:

* bytes transferred: the sum of ``encodedDataLength`` over every response
  (headers included, as the wire carries them, compressed where compressed);
* requests made, and how many were answered from the cache;
* time to a ready terminal: from the start of navigation until the
  terminal shows the shell's prompt (the console is attached and replayed).

    .venv/bin/python bench/page_weight.py [--runs 3]

The figures go to docs/performance.md, section "Page weight".
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.servers import ide_command, start_ours  # noqa: E402 (the repository is put on the path first)

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-extensions", "--disable-default-apps",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
SLOW_LINK = {"offline": False, "latency": 150, "downloadThroughput": 1_600_000 / 8,
             "uploadThroughput": 1_600_000 / 8}
READY = "window.ideTerminal && /[$#] $/m.test(window.ideTerminal.text())"


def start_console(url: str, name: str, token: str) -> str:
    request = urllib.request.Request(
        f"{url}/api/v0/user/{name}/consoles/", data=json.dumps({"executable": "bash"}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.load(response)["console_url"])


def load(context: BrowserContext, url: str) -> dict[str, Any]:
    """One throttled load of ``url`` in a new tab of ``context``."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_LINK)
    transferred: dict[str, float] = {}
    cached: set[str] = set()
    cdp.on("Network.loadingFinished",
           lambda event: transferred.__setitem__(event["requestId"], event["encodedDataLength"]))
    cdp.on("Network.requestServedFromCache", lambda event: cached.add(event["requestId"]))
    cdp.on("Network.responseReceived", lambda event: cached.add(event["requestId"])
           if event["response"].get("fromDiskCache") or event["response"].get("fromMemoryCache")
           else None)
    started = time.monotonic()
    page.goto(url, wait_until="commit")
    # Polled from here: wait_for_function evaluates a string in the page,
    # which the content-security policy forbids.
    deadline = started + 120
    while not page.evaluate(READY):
        if time.monotonic() > deadline:
            raise SystemExit("the terminal never showed a prompt")
        page.wait_for_timeout(10)
    ready_ms = (time.monotonic() - started) * 1000
    page.wait_for_load_state("load")
    result = {"bytes": int(sum(transferred.values())), "requests": len(transferred),
              "from_cache": len(cached), "ready_ms": ready_ms}
    page.close()
    return result


def measure(runs: int) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {"first": [], "repeat": []}
    with tempfile.TemporaryDirectory(prefix="page-weight-") as work_dir:
        server = start_ours(Path(work_dir))
        url = f"http://127.0.0.1:{server.port}"
        try:
            name = "weigh"
            password = "page weight bench"
            ide_command(Path(work_dir), "user", "add", name, "--type", "hacker", f"--password={password}")
            token = ide_command(Path(work_dir), "user", "token", name).splitlines()[-1]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                     args=CHROMIUM_ARGS)
                for _ in range(runs):
                    console_url = url + start_console(url, name, token)
                    context = browser.new_context()
                    log_in(context, url, name, password)
                    results["first"].append(load(context, console_url))
                    results["repeat"].append(load(context, console_url))
                    context.close()
                browser.close()
        finally:
            server.stop()
    return results


def log_in(context: BrowserContext, url: str, name: str, password: str) -> None:
    """Log in without fetching any static file, so that the first load of the
    console page starts with an empty cache."""
    page = context.new_page()
    page.route("**/static/**", lambda route: route.abort())
    page.goto(url + "/login/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")
    page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh browser contexts to measure (default 3)")
    args = parser.parse_args()
    results = measure(args.runs)
    print(f"{'load':8} {'KiB transferred':>16} {'requests':>9} {'from cache':>11} {'ready ms (median)':>18}")
    for kind, runs in results.items():
        print(f"{kind:8} {statistics.median(r['bytes'] for r in runs) / 1024:16.1f} "
              f"{statistics.median(r['requests'] for r in runs):9.0f} "
              f"{statistics.median(r['from_cache'] for r in runs):11.0f} "
              f"{statistics.median(r['ready_ms'] for r in runs):18.0f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
