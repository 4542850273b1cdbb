"""The files feature as one service object for the web app."""
from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from ide.accounts import AccountStore
from ide.files.lint import Linter
from ide.files.share_files import SharedFiles
from ide.files.store import FileStore
from sandbox import Sandbox


@dataclass
class FileService:
    """Files (``store``), share links (``sharing``) and the lint pool (``linter``)."""

    store: FileStore
    sharing: SharedFiles
    linter: Linter

    @classmethod
    def build(cls, sandbox: Sandbox, accounts: AccountStore, redis: aioredis.Redis) -> FileService:
        store = FileStore(sandbox, accounts, redis)
        return cls(store=store, sharing=SharedFiles(store, store.shares, accounts), linter=Linter())

    def close(self) -> None:
        """Stop the lint workers; call at server shutdown."""
        self.linter.close()
