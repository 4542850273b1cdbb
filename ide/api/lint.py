"""``lint/``: pyflakes' findings for the editor's code."""
from __future__ import annotations

from ide.files.errors import InvalidRequest
from ide.web.base import ApiHandler


class LintHandler(ApiHandler):
    async def post(self, owner: str) -> None:
        self.check_owner(owner)
        linter = self.services.files.linter
        # The server's body cap bounds the JSON to parse; the linter bounds the code it checks.
        code = self.json_body().get("code")
        if not isinstance(code, str):
            raise InvalidRequest('Send the code to check as {"code": "..."}.')
        self.write_json(await linter.lint(code))
