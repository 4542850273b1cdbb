"""The secret the nodes of a deployment (and the ``ide`` command) seal their messages with.

Messages between nodes go through Redis (``consoles/signing.py``), so the
secret must not: whatever reaches Redis could then forge them.  It comes from
``--node-secret-file``; with the embedded Redis and no such file, one is
made once in the data directory (mode 0600), which every ``ide`` command on
that data directory reads.  With an external Redis there are several nodes,
and nothing but the operator can hand them one secret: the file is required.
"""
from __future__ import annotations

import os
import secrets
import stat
import tempfile
from pathlib import Path

from consoles import NodeKey
from consoles.signing import MIN_SECRET_BYTES
from ide.config import Settings

GENERATED_NAME = "node-secret"
_MAKE_ONE = "openssl rand -hex 32 > FILE; chmod 600 FILE"


class NodeSecretError(Exception):
    """No usable node secret; the message is one line for the operator."""


def node_key(settings: Settings) -> NodeKey:
    """The deployment's key, from the configured file or the data directory's own."""
    if settings.node_secret_file is not None:
        return _read(settings.node_secret_file)
    if settings.redis_url is not None:
        raise NodeSecretError(
            "--redis-url needs --node-secret-file FILE (IDE_NODE_SECRET_FILE): the nodes sharing a Redis "
            "and the ide command sign the messages they send each other with one secret, kept out of "
            f"Redis; make it once ({_MAKE_ONE}) and give every node and ide command the same file")
    path = settings.data_dir / GENERATED_NAME
    if not path.exists():
        _generate(path)
    return _read(path)


def _read(path: Path) -> NodeKey:
    try:
        with open(path, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            secret = file.read().strip()
    except OSError as exc:
        raise NodeSecretError(f"cannot read the node secret file {path}: {exc.strerror or exc}") from None
    if mode & 0o077:
        raise NodeSecretError(f"the node secret file {path} is open to other users (mode "
                              f"{stat.S_IMODE(mode):04o}): chmod 600 {path}")
    if len(secret) < MIN_SECRET_BYTES:
        raise NodeSecretError(f"the node secret in {path} is too short ({len(secret)} bytes, at least "
                              f"{MIN_SECRET_BYTES}): make one with {_MAKE_ONE}")
    return NodeKey(secret)


def _generate(path: Path) -> None:
    """Write a new secret at ``path`` unless another process just did: written whole to a
    private temporary file first and linked into place, so no reader sees half of it."""
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".node-secret-")
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_hex(32) + "\n")
                file.flush()
                os.fsync(file.fileno())
            os.link(temporary, path)
        except FileExistsError:
            pass  # another ide process made it first: that one is the secret
        finally:
            os.unlink(temporary)
    except OSError as exc:
        raise NodeSecretError(f"cannot write the node secret file {path}: {exc.strerror or exc}") from None
