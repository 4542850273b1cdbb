"""The Tornado application: every URL of the service, wired to its handler."""
from __future__ import annotations

from typing import Any

import tornado.web

from ide.api.openapi import OpenApiHandler
from ide.api.teacher import TeacherHandler
from ide.assets import DIST_DIR, STATIC_DIR, HashedAssetHandler
from ide.routes import API_PREFIX, Route
from ide.services import Services
from ide.web.account_pages import AccountHandler, DashboardHandler
from ide.web.auth_pages import LoginHandler, LogoutHandler, SignupHandler
from ide.web.base import PageHandler

USER_API = API_PREFIX + "/user/{owner}"


class NotFoundHandler(PageHandler):
    def prepare(self) -> None:  # type: ignore[override]
        raise tornado.web.HTTPError(404, "There is no page at this address.")


def api_routes(services: Services) -> list[Route]:
    """The API v0 routes; each template also appears in openapi.yaml."""
    kwargs = {"services": services}
    return [
        Route(USER_API + "/teacher/", TeacherHandler, kwargs),
    ]


def page_routes(services: Services) -> list[Route]:
    kwargs = {"services": services}
    return [
        Route("/", DashboardHandler, kwargs),
        Route("/login/", LoginHandler, kwargs),
        Route("/logout/", LogoutHandler, kwargs),
        Route("/signup/", SignupHandler, kwargs),
        Route("/account/", AccountHandler, kwargs),
    ]


def make_app(services: Services, cookie_secret: str, extra_handlers: list[Any] | None = None
             ) -> tornado.web.Application:
    settings = services.settings
    handlers: list[Any] = [
        (r"/static/js/dist/(.*)", HashedAssetHandler, {"path": str(DIST_DIR)}),
        (API_PREFIX + r"/openapi\.yaml", OpenApiHandler),
        *api_routes(services),
        *page_routes(services),
        *(extra_handlers or []),
    ]
    return tornado.web.Application(
        handlers,
        cookie_secret=cookie_secret,
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"samesite": "Lax", "secure": settings.secure_cookies},
        login_url="/login/",
        static_path=str(STATIC_DIR),
        default_handler_class=NotFoundHandler,
        default_handler_args={"services": services},
        websocket_ping_interval=25,
    )
