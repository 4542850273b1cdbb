"""The domain objects a running server holds, handed to every handler."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2
import redis.asyncio as aioredis

from ide.accounts import AccountStore
from ide.assets import AssetManifest
from ide.config import Settings
from ide.login_throttle import LoginThrottle
from ide.sessions import SessionStore
from ide.tokens import TokenStore


@dataclass
class Services:
    settings: Settings
    redis: aioredis.Redis
    accounts: AccountStore
    tokens: TokenStore
    sessions: SessionStore
    throttle: LoginThrottle
    templates: jinja2.Environment
    assets: AssetManifest
    sandbox: Any
    sandbox_status: str | None = None
    pythons: tuple[str, ...] = ()
