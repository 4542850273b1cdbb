"""``lint/``: pyflakes' findings for the editor's code."""
from __future__ import annotations

from ide.files.errors import InvalidRequest, TooLarge
from ide.web.base import ApiHandler

_JSON_ESCAPING = 6
"""JSON may spell one character of code in up to six bytes (\\uXXXX)."""


class LintHandler(ApiHandler):
    async def post(self, owner: str) -> None:
        self.check_owner(owner)
        linter = self.services.files.linter
        if len(self.request.body) > _JSON_ESCAPING * linter.max_bytes + 1024:
            raise TooLarge(f"Only up to {linter.max_bytes // 1024} KB of code is checked.")
        code = self.json_body().get("code")
        if not isinstance(code, str):
            raise InvalidRequest('Send the code to check as {"code": "..."}.')
        self.write_json(await linter.lint(code))
