"""A console like PythonAnywhere's, for running its ``pa`` command line unmodified.

On PythonAnywhere ``pa`` runs in the user's console: the home is at
``/home/<user>``, ``WORKON_HOME`` is ``~/.virtualenvs`` and
virtualenvwrapper is installed, so ``pa webapp create`` makes a real
virtualenv there and names these paths to the API.  Here the command runs
as root in a mount namespace of its own, with the user's data directory
bound at ``/home/<user>``, and in a network namespace of its own that has
nothing but a loopback: the only way out is a relay (a Unix socket) to the
TLS front on the host's loopback.  Anything ``pa`` or virtualenv tried to
reach elsewhere would fail the command.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

from tests.tls_front import TlsFront, client_environment

SYSTEM_PYTHON = "/usr/bin/python3.11"

# Runs as the new namespaces' first process: bind the home, bring the loopback
# up, relay the front's port to the host through the Unix socket, run pa.
_ENTRY = r"""
import os, socket, subprocess, sys, threading
home_source, user, relay_path, port = sys.argv[1:5]
command = sys.argv[5:]
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/home"], check=True)
os.mkdir(f"/home/{user}")
subprocess.run(["mount", "--bind", home_source, f"/home/{user}"], check=True)
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
listener = socket.create_server(("127.0.0.1", int(port)))

def pump(source, target):
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        target.close()

def relay():
    while True:
        client, _ = listener.accept()
        outside = socket.socket(socket.AF_UNIX)
        outside.connect(relay_path)
        threading.Thread(target=pump, args=(client, outside), daemon=True).start()
        threading.Thread(target=pump, args=(outside, client), daemon=True).start()

threading.Thread(target=relay, daemon=True).start()
os.chdir(f"/home/{user}")
sys.exit(subprocess.run(command).returncode)
"""


class UnixRelay:
    """Host side of the relay: connections to a Unix socket go on to the front's TCP port."""

    def __init__(self, path: Path, port: int) -> None:
        self.path = path
        self.port = port
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(path))
        self.listener.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            front = socket.create_connection(("127.0.0.1", self.port))
            threading.Thread(target=_pump, args=(client, front), daemon=True).start()
            threading.Thread(target=_pump, args=(front, client), daemon=True).start()

    def close(self) -> None:
        self.listener.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        target.close()


class PaConsole:
    """Runs ``pa`` as ``username`` would in a console, with no network but the front."""

    def __init__(self, front: TlsFront, cert: Path, relay: UnixRelay, data_dir: Path, username: str,
                 token: str, tools: Path) -> None:
        self.username = username
        self.home = data_dir / "home" / username
        self.relay = relay
        # The machine's Python, as in a user's console: a virtualenv must not point at the
        # test's own interpreter, which the user's apps may not be able to read.  virtualenv
        # and virtualenvwrapper come from the test's environment, run by that Python.
        bin_dir = str(Path(sys.executable).parent)
        tools.mkdir(parents=True, exist_ok=True)
        shim = tools / "virtualenv"
        shim.write_text(f'#!/bin/sh\nexec {SYSTEM_PYTHON} -m virtualenv "$@"\n')
        shim.chmod(0o755)
        self.env = {**client_environment(front, cert, username, token),
                    "HOME": f"/home/{username}", "WORKON_HOME": f"/home/{username}/.virtualenvs",
                    "PATH": f"/usr/sbin:/usr/bin:/sbin:/bin:{tools}:{bin_dir}",
                    "VIRTUALENVWRAPPER_PYTHON": SYSTEM_PYTHON, "PYTHONPATH": sysconfig.get_paths()["purelib"],
                    "VIRTUALENV_NO_PERIODIC_UPDATE": "1"}

    def run(self, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        command = ["unshare", "--mount", "--propagation", "private", "--net", "--",
                   sys.executable, "-c", _ENTRY, str(self.home), self.username, str(self.relay.path),
                   str(self.relay.port), *argv]
        return subprocess.run(command, env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=180)

    def seed(self, name: str, text: str) -> None:
        """Upload a file to the home from outside, as the user's first file (the bind above needs
        the home to exist)."""
        result = subprocess.run([str(Path(sys.executable).parent / "pa"), "path", "upload",
                                 f"/home/{self.username}/{name}", "-c", "-"], input=text, env=self.env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr

    def pa(self, *args: str, ok: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = self.run(str(Path(sys.executable).parent / "pa"), *args, env=env)
        if ok:
            assert result.returncode == 0, f"pa {' '.join(args)}: {result.stdout}{result.stderr}"
        return result
