"""The web-app front of ``ide serve`` against the app server alone and against nginx.

    .venv/bin/python bench/bench_front.py [--seconds 20] [--connections 50] [--output docs/performance.md]

One run, on one ``ide serve`` (unisolated, as the console bench runs ours),
measuring 4 first (before the load grows the server's heap), then 3, 1, 2:

1. A hello-world WSGI app (the one a new app gets), run by gunicorn through
   the supervisor with a free account's one worker: requests/s and p99 latency of ``--connections``
   keep-alive clients for ``--seconds`` each, reaching it directly on its
   Unix socket, through our front, and through nginx proxying to the same
   socket.
2. A 20 KB file of a static mapping: our front against nginx serving the
   same file.
3. Cold start: a Flask app disabled (which stops it) and enabled again, then
   timed from the request sent to the front until its answer; the median of
   ``--cold-starts``.
4. The server's memory per running app: the RSS of the ``ide serve``
   process (its own, not the apps', which live in their users' groups)
   with 1 app running and with 50, each having answered requests.

With ``--before DIR`` (an earlier checkout, e.g. ``git archive COMMIT | tar
-x -C DIR``) a second ``ide serve`` runs that code with the same app and file,
and its front gets rows of its own in 1 and 2: the figures before and after
in one run.

Needs nginx (``apt-get install nginx-light``) and Flask in the virtualenv
(``pip install -e '.[bench]'``).  The load client is ``bench/http_load.py``,
one process per measurement.  Prints the figures and rewrites the section
``## Web apps behind the front`` of docs/performance.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.front_peers import Nginx, load, merged  # noqa: E402
from bench.front_report import Figures, section  # noqa: E402
from bench.report import replace_section  # noqa: E402
from bench.servers import REPO, RunningServer, SourceTree, machine, make_account, start_ours  # noqa: E402
from bench.workers import stop_on_sigterm  # noqa: E402

STATIC_SIZE = 20 * 1024
FLASK_APP = '''
from flask import Flask

application = Flask(__name__)


@application.route("/")
def index():
    return "Hello from Flask"
'''
APPS_PER_ACCOUNT = 2  # a hacker account's limit (two workers each)


@dataclass
class Site:
    """One account's app, and how to reach it."""
    user: str
    token: str
    domain: str
    app_id: int = 0
    extra: list[str] = field(default_factory=list)


class Bench:
    def __init__(self, work: Path, server: RunningServer) -> None:
        self.work = work
        self.server = server
        self.data = work / "data"

    def api(self, site: Site, method: str, path: str, body: dict[str, object] | None = None) -> object:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.server.port}/api/v0/user/{site.user}/{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Token {site.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            text = response.read()
        return json.loads(text) if text else None

    def visit(self, domain: str, path: str = "/") -> tuple[int, bytes]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.server.port}{path}",
                                         headers={"Host": f"{domain}:{self.server.port}"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def account(self, name: str, account_type: str = "web_developer") -> Site:
        made = make_account(self.work, name, account_type)
        return Site(made.name, made.token, f"{made.name.replace('_', '-')}.localhost")

    def create(self, site: Site, domain: str) -> int:
        created = self.api(site, "POST", "webapps/", {"domain_name": domain, "python_version": "python311"})
        assert isinstance(created, dict)
        return int(created["id"])

    def socket_of(self, site: Site, app_id: int) -> Path:
        return self.data / "run" / site.user / f"{app_id}.sock"

    def front(self) -> tuple[str, str]:
        return ("tcp", f"127.0.0.1:{self.server.port}")

    def owned_file(self, site: Site, relative: str, content: bytes) -> Path:
        """A file in the user's home, owned by them as if their programs wrote it."""
        home = self.data / "home" / site.user
        path = home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        owner = home.stat()
        for made in (path, *[p for p in path.parents if home in p.parents]):
            os.chown(made, owner.st_uid, owner.st_gid)
        return path

    def server_rss(self) -> int:
        return int(psutil.Process(self.server.process.pid).memory_info().rss)


def throughput(bench: Bench, figures: Figures, hello: Site, nginx: Nginx, before: RunningServer | None,
               args: argparse.Namespace) -> None:
    """Each target for ``seconds`` in all, in ``rounds`` rounds that take turns (the first target of
    a round changes each time), so that what else the machine does falls on all alike."""
    seconds, connections, rounds = args.seconds, args.connections, args.rounds
    host = f"{hello.domain}:{bench.server.port}"
    nginx_target = ("tcp", f"127.0.0.1:{nginx.port}")
    earlier = {"before": ("tcp", f"127.0.0.1:{before.port}")} if before is not None else {}
    groups = {
        "app": ("/", {"direct": ("unix", str(bench.socket_of(hello, hello.app_id))), "front": bench.front(),
                      "nginx": nginx_target, **earlier}),
        "static": ("/static/file.bin", {"front": bench.front(), "nginx": nginx_target, **earlier}),
    }
    for group, (path, targets) in groups.items():
        runs: dict[str, list[dict[str, object]]] = {name: [] for name in targets}
        for target in targets.values():
            load(target, host, path, connections, 2.0)  # warm-up: connections, caches, the app's imports
        for index in range(rounds):
            names = list(targets)
            names = names[index % len(names):] + names[:index % len(names)]
            for name in names:
                spent_before = cpu_seconds(bench, nginx, hello, before)
                runs[name].append(load(targets[name], host, path, connections, seconds / rounds))
                after = cpu_seconds(bench, nginx, hello, before)
                spent = figures.cpu.setdefault(f"{group} {name}", {})
                for process, seconds_used in after.items():
                    spent[process] = spent.get(process, 0.0) + seconds_used - spent_before[process]
                figures.load.append(os.getloadavg()[0])
            print(f"-- {group}, round {index + 1} of {rounds}: " + ", ".join(
                f"{name} {runs[name][-1]['rate']:.0f}/s" for name in targets), flush=True)
        results = figures.app if group == "app" else figures.static
        for name in targets:
            results[name] = merged(runs[name])


def cpu_seconds(bench: Bench, nginx: Nginx, hello: Site, before: RunningServer | None) -> dict[str, float]:
    """User + system CPU so far of our server (its own process), of nginx, of the hello app's gunicorn
    (the one measured directly and through nginx) and of the earlier version's server."""
    def total(processes: list[psutil.Process]) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in processes)
    server = psutil.Process(bench.server.process.pid)
    app = [p for p in server.children(recursive=True) if str(bench.socket_of(hello, hello.app_id)) in
           " ".join(p.cmdline())]
    master = psutil.Process(nginx.process.pid)
    spent = {"ide serve": total([server]), "nginx": total([master, *master.children()]), "gunicorn": total(app)}
    if before is not None:
        spent["before"] = total([psutil.Process(before.process.pid)])
    return spent


def cold_starts(bench: Bench, figures: Figures, flask: Site, count: int) -> None:
    """Disable (which stops the app) and enable, then time the first visit."""
    print(f"-- cold starts of a Flask app, {count}", flush=True)
    status, body = bench.visit(flask.domain)
    if status != 200 or b"Flask" not in body:
        raise RuntimeError(f"the Flask app does not answer: {status} {body[:300]!r}")
    for _ in range(count):
        bench.api(flask, "POST", f"webapps/{flask.domain}/disable/")
        bench.api(flask, "POST", f"webapps/{flask.domain}/enable/")
        started = time.monotonic()
        status, body = bench.visit(flask.domain)
        figures.cold_starts.append(time.monotonic() - started)
        if status != 200:
            raise RuntimeError(f"a cold start answered {status}")
    # Leave it stopped: the memory measurement counts running apps.
    bench.api(flask, "POST", f"webapps/{flask.domain}/disable/")


def memory(bench: Bench, figures: Figures, hello: Site, apps: int) -> None:
    """Server RSS with the hello app alone running, then with ``apps`` running apps."""
    print(f"-- memory with 1 and {apps} running apps", flush=True)
    for _ in range(20):
        bench.visit(hello.domain)
    time.sleep(2)
    figures.rss_one = bench.server_rss()
    domains: list[tuple[Site, str]] = []
    with ThreadPoolExecutor(4) as pool:
        sites = list(pool.map(lambda index: bench.account(f"mem{index}", "hacker"),
                              range((apps - 1 + APPS_PER_ACCOUNT - 1) // APPS_PER_ACCOUNT)))
    for site in sites:
        for slot in range(min(APPS_PER_ACCOUNT, apps - 1 - len(domains))):
            domain = site.domain if slot == 0 else f"app{slot}.{site.user}.example.org"
            bench.create(site, domain)
            domains.append((site, domain))
    for _, domain in domains:
        status, _ = bench.visit(domain)
        if status != 200:
            raise RuntimeError(f"{domain} answered {status}")
    for _ in range(5):
        for _, domain in domains:
            bench.visit(domain)
    time.sleep(2)
    figures.rss_many = bench.server_rss()
    figures.apps = apps


def hello_site(bench: Bench) -> tuple[Site, Path]:
    """The free account's hello-world app with its static file, answering; the file."""
    hello = bench.account("hello", "free")  # one worker, as most apps have
    hello.app_id = bench.create(hello, hello.domain)
    static_file = bench.owned_file(hello, "site/static/file.bin", bytes(range(256)) * (STATIC_SIZE // 256))
    bench.api(hello, "POST", f"webapps/{hello.domain}/static_files/",
              {"url": "/static/", "path": f"/home/{hello.user}/site/static"})
    for path in ("/", "/static/file.bin"):
        status, _ = bench.visit(hello.domain, path)
        if status != 200:
            raise RuntimeError(f"the hello app answered {status} for {path}")
    return hello, static_file


def run(work: Path, args: argparse.Namespace) -> Figures:
    figures = Figures(seconds=args.seconds, connections=args.connections, rounds=args.rounds, machine=machine(),
                      before=args.before_label if args.before else "")
    server = start_ours(work)
    before: RunningServer | None = None
    nginx: Nginx | None = None
    try:
        bench = Bench(work, server)
        hello, static_file = hello_site(bench)
        if args.before:
            (work / "before").mkdir()
            before = start_ours(work / "before", tree=SourceTree.of(args.before))
            hello_site(Bench(work / "before", before))
        # Memory first, while the server's heap has not yet grown for the load.
        memory(bench, figures, hello, args.apps)
        flask = bench.account("flask")
        flask.app_id = bench.create(flask, flask.domain)
        www = bench.data / "www" / flask.user / (flask.domain.replace(".", "_") + "_wsgi.py")
        stat = www.stat()
        www.write_text(FLASK_APP)
        os.chown(www, stat.st_uid, stat.st_gid)
        cold_starts(bench, figures, flask, args.cold_starts)

        nginx = Nginx(work / "nginx", bench.socket_of(hello, hello.app_id), static_file.parent)
        figures.nginx_version = nginx.version
        throughput(bench, figures, hello, nginx, before, args)
        figures.problems = server.problems()
    finally:
        if nginx is not None:
            nginx.stop()
        if before is not None:
            before.stop()
        server.stop()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4, help="the seconds of each target, split in turns")
    parser.add_argument("--cold-starts", type=int, default=10)
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "performance.md")
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="also measure the front of an earlier checkout in DIR "
                             "(git archive COMMIT | tar -x -C DIR)")
    parser.add_argument("--before-label", default="an earlier version", help="what --before is, for the table")
    args = parser.parse_args()
    stop_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="bench-front-") as name:
        figures = run(Path(name), args)
    text = section(figures)
    print(text)
    replace_section(args.output, "## Web apps behind the front", text)
    return 0 if figures.all_met() else 1


if __name__ == "__main__":
    sys.exit(main())
