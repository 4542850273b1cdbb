"""How a web app runs: gunicorn in the user's sandbox, with their Python and virtualenv.

gunicorn (not uWSGI) because it is pure Python: it runs under whichever
interpreter and virtualenv the app names, in the user's own namespace,
while Debian's uWSGI plugin is built for one Python; and a SIGHUP starts
new workers before the old ones leave, so a reload drops no request.
Figures: docs/performance.md ("Web apps").  The user's interpreter runs
``wsgi_launcher.py``, which finds gunicorn in the server's own
site-packages, marks workers ready and the app's exceptions as incidents.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

from ide.webapps.store import Webapp
from sandbox import Identity, Sandbox
from sandbox.child_setup import LIBRARY_TARGET
from supervisor import ProgramSpec, RestartPolicy
from supervisor.spec import Backoff


def _gunicorn_site() -> str:
    spec = importlib.util.find_spec("gunicorn")
    if spec is None or spec.origin is None:
        raise ImportError("gunicorn is not installed; web apps need it (pip install gunicorn)")
    return str(Path(spec.origin).resolve().parent.parent)


GUNICORN_SITE = _gunicorn_site()
_LAUNCHER = (Path(__file__).parent / "wsgi_launcher.py").read_text()
# The visitor's address comes from the front, as X-Forwarded-For.
_ACCESS_FORMAT = '%({x-forwarded-for}i)s - %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" response-time=%(L)s'
WORKERS = {"free": 1, "hacker": 2, "web_developer": 4}
NO_BYTECODE = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": "/nonexistent/ide-no-bytecode"}
"""An app compiles its code from source at each start and reload.  Python takes a cached
``.pyc`` as current when the source's size and mtime (in whole seconds) match: a learner
who changes ``"one"`` to ``"two"`` and reloads within the second would get the old code.
The prefix sends every cache lookup to a directory that does not exist."""
START_BACKOFF = Backoff(first_delay=2.0, max_delay=60.0, max_failures=4, stable_seconds=30.0)

def wsgi_module(domain: str) -> str:
    return domain.replace(".", "_") + "_wsgi"


def wsgi_file(www: str, domain: str) -> str:
    """``/var/www/<domain with dots as underscores>_wsgi.py`` (as the given side names /var/www)."""
    return f"{www}/{wsgi_module(domain)}.py"


def log_file(log_dir: str, domain: str, kind: str) -> str:
    """``<log dir>/<domain>.<access|error|server>.log``."""
    return f"{log_dir}/{domain}.{kind}.log"


def program_name(webapp: Webapp) -> str:
    return f"webapp:{webapp.id}"


def interpreter(webapp: Webapp, pythons: Mapping[str, str]) -> str:
    if webapp.virtualenv_path:
        return webapp.virtualenv_path.rstrip("/") + "/bin/python"
    return pythons[webapp.python_version]


class WebappRuntime:
    """Builds the supervisor's spec for a web app and knows where its files are."""

    def __init__(self, sandbox: Sandbox, pythons: Mapping[str, str], node: str = "") -> None:
        # Nodes sharing a data directory (each named by --node-id) each run their own copy of
        # an app (node_copies.py): each copy needs a socket of its own.
        self._node_tag = "@" + hashlib.sha256(node.encode()).hexdigest()[:8] if node else ""
        self.sandbox = sandbox
        self.pythons = dict(pythons)

    def socket_path(self, identity: Identity, webapp: Webapp) -> Path:
        """The app's Unix socket on the host (``<data-dir>/run/<user>/<id>[@<node>].sock``)."""
        return Path(self.sandbox.host_places(identity).run) / f"{webapp.id}{self._node_tag}.sock"

    def worker_marks(self, identity: Identity, webapp: Webapp) -> Path:
        """Where the app's workers mark themselves ready (``wsgi_launcher.py``), on the host."""
        return Path(self.sandbox.host_places(identity).run) / f"{webapp.id}{self._node_tag}.ready"

    def host_wsgi_file(self, identity: Identity, webapp: Webapp) -> Path:
        return Path(wsgi_file(self.sandbox.host_places(identity).www, webapp.domain_name))

    def host_log(self, identity: Identity, webapp: Webapp, kind: str) -> Path:
        return Path(log_file(self.sandbox.host_places(identity).log, webapp.domain_name, kind))

    def seen(self, identity: Identity, visible: str) -> str:
        """A ``/home/<user>/…`` path as the app's process sees it (the host path when not isolated)."""
        if self.sandbox.isolated or not visible.startswith("/"):
            return visible
        return str(self.sandbox.host_path(identity, visible))

    def spec(self, identity: Identity, webapp: Webapp, source_present: bool = True) -> ProgramSpec:
        """``source_present``: whether the source directory exists.  An app starts in it, or
        in the home while it does not exist yet (PythonAnywhere's ``pa webapp create`` names
        a project directory it leaves for the user to make, and the site works meanwhile)."""
        places = self.sandbox.places(identity)
        domain = webapp.domain_name
        source = (webapp.source_directory if source_present else "") or identity.visible_home
        socket_path = f"{places.run}/{webapp.id}{self._node_tag}.sock"
        if webapp.command:
            return self._spec(identity, webapp, ("bash", "-c", webapp.command), source,
                              {"DOMAIN_SOCKET": socket_path}, hangup=False)
        site = LIBRARY_TARGET if self.sandbox.isolated else GUNICORN_SITE
        argv = (self.seen(identity, interpreter(webapp, self.pythons)), "-c", _LAUNCHER,
                "--bind", f"unix:{socket_path}",
                "--workers", str(WORKERS.get(identity.account_type, 1)),
                "--chdir", self.seen(identity, source),
                "--pythonpath", places.www,
                "--access-logfile", log_file(places.log, domain, "access"),
                "--access-logformat", _ACCESS_FORMAT,
                "--error-logfile", "-",
                # Only the front can reach the socket: its X-Forwarded-* are the truth.
                "--forwarded-allow-ips", "*",
                "--graceful-timeout", "10",
                f"{wsgi_module(domain)}:application")
        env = {"IDE_GUNICORN_SITE": site, "IDE_READY_DIR": f"{places.run}/{webapp.id}{self._node_tag}.ready"}
        return self._spec(identity, webapp, argv, source, env, hangup=True)

    def _spec(self, identity: Identity, webapp: Webapp, argv: tuple[str, ...], cwd: str,
              env: Mapping[str, str], *, hangup: bool) -> ProgramSpec:
        return ProgramSpec(
            name=program_name(webapp), identity=identity, argv=argv,
            cwd=cwd,
            log=self.host_log(identity, webapp, "error"), event_log=self.host_log(identity, webapp, "server"),
            env={"PYTHONUNBUFFERED": "1", **NO_BYTECODE, **env}, restart=RestartPolicy.ALWAYS,
            ready_path=self.socket_path(identity, webapp), backoff=START_BACKOFF, reloads_on_hangup=hangup,
            worker_marks=self.worker_marks(identity, webapp) if hangup else None,
            rotate_logs=tuple(self.host_log(identity, webapp, kind) for kind in ("access", "error", "server")))


def write_new_file(path: Path, text: str, owner: tuple[int, int] | None) -> bool:
    """Create ``path`` with ``text`` unless something is there already; blocking.

    The directory is the user's: never follows a link, never overwrites.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        return False
    try:
        if owner is not None:
            os.fchown(fd, *owner)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    return True
