"""The Tornado application: every URL of the service, wired to its handler."""
from __future__ import annotations

from typing import Any

import tornado.web
from tornado.httputil import HTTPServerRequest

from consoles import STREAM_PATH, make_console_router
from ide.api.always_on import AlwaysOnHandler, AlwaysOnListHandler, AlwaysOnRestartHandler
from ide.api.consoles import (
    ConsoleHandler,
    ConsoleListHandler,
    LatestOutputHandler,
    SendInputHandler,
    SharedWithYouHandler,
)
from ide.api.cpu import CpuHandler
from ide.api.launchers import LauncherHandler, LauncherListHandler
from ide.api.openapi import OpenApiHandler
from ide.api.processes import ProcessHandler, ProcessListHandler
from ide.api.schedule import ScheduleExtendHandler, ScheduleHandler, ScheduleListHandler, ScheduleStopHandler
from ide.api.sharing import sharing_routes
from ide.api.teacher import TeacherHandler
from ide.api.webapps import (
    StaticFileHandler,
    StaticFilesHandler,
    WebappDisableHandler,
    WebappEnableHandler,
    WebappHandler,
    WebappListHandler,
    WebappReloadHandler,
)
from ide.api.websites import API_V1, WebsiteHandler, WebsiteListHandler, WebsiteReloadHandler
from ide.assets import STATIC_DIR, StaticHandler
from ide.files.routes import file_routes
from ide.routes import API_PREFIX, USER_API, Route
from ide.services import Services
from ide.web.account_pages import AccountHandler, DashboardHandler
from ide.web.auth_pages import LoginHandler, LogoutHandler, SignupHandler
from ide.web.console_pages import ConsolePage, ConsolesPage, FramePage
from ide.web.fallbacks import BODY_LIMIT, BodyTooLargeApi, BodyTooLargePage, NotFoundApi, NotFoundPage, is_api
from ide.web.security_headers import security_headers
from ide.web.task_pages import TasksPage
from ide.web.tornado_adapter import streams_body
from ide.web.webapp_pages import OwnerPassPage, WebappsPage
from ide.webapps.front import WebappFront
from ide.webapps.proxy import AppProxy


class IdeApplication(tornado.web.Application):
    """Routes as usual, except that a request declaring a body over
    :data:`BODY_LIMIT` for a handler that reads bodies whole goes to a 413
    before a byte of it is read, whoever sends it."""

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> Any:
        front = self.settings.get("webapp_front")
        if front is not None and front[0].webapps.is_app_host(request.host_name):
            # A web app's visitor: none of the IDE's routes apply, nor its body cap.
            services, proxy = front
            return self.get_handler_delegate(request, WebappFront, {"services": services, "proxy": proxy})
        delegate = super().find_handler(request, **kwargs)
        if streams_body(delegate) or _declared_length(request) <= BODY_LIMIT:
            return delegate
        handler = BodyTooLargeApi if is_api(request.path) else BodyTooLargePage
        return self.get_handler_delegate(request, handler, self.settings["default_handler_args"])

    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """Every request, except web apps' answered ones: each app logs its own visitors
        (its access log), and a line per visit here cost the front a twentieth of its speed."""
        if isinstance(handler, WebappFront) and handler.get_status() < 500:
            return
        super().log_request(handler)


def _declared_length(request: HTTPServerRequest) -> int:
    try:
        return int(request.headers.get("Content-Length", "0"))
    except ValueError:
        return 0  # Tornado itself refuses the request as malformed


def api_routes(services: Services) -> list[Route]:
    """The API v0 routes; each template also appears in openapi.yaml."""
    kwargs = {"services": services}
    return [
        *file_routes(services)[0],
        Route(USER_API + "/consoles/", ConsoleListHandler, kwargs),
        Route(USER_API + "/consoles/shared_with_you/", SharedWithYouHandler, kwargs),
        Route(USER_API + "/consoles/{console_id}/", ConsoleHandler, kwargs),
        Route(USER_API + "/consoles/{console_id}/send_input/", SendInputHandler, kwargs),
        Route(USER_API + "/consoles/{console_id}/get_latest_output/", LatestOutputHandler, kwargs),
        Route(USER_API + "/cpu/", CpuHandler, kwargs),
        Route(USER_API + "/launchers/", LauncherListHandler, kwargs),
        Route(USER_API + "/launchers/{launcher_id}/", LauncherHandler, kwargs),
        Route(USER_API + "/processes/", ProcessListHandler, kwargs),
        Route(USER_API + "/processes/{pid}/", ProcessHandler, kwargs),
        Route(USER_API + "/always_on/", AlwaysOnListHandler, kwargs),
        Route(USER_API + "/always_on/{task_id}/", AlwaysOnHandler, kwargs),
        Route(USER_API + "/always_on/{task_id}/restart/", AlwaysOnRestartHandler, kwargs),
        Route(USER_API + "/schedule/", ScheduleListHandler, kwargs),
        Route(USER_API + "/schedule/{task_id}/", ScheduleHandler, kwargs),
        Route(USER_API + "/schedule/{task_id}/extend/", ScheduleExtendHandler, kwargs),
        Route(USER_API + "/schedule/{task_id}/stop/", ScheduleStopHandler, kwargs),
        Route(USER_API + "/teacher/", TeacherHandler, kwargs),
        *sharing_routes(services)[0],
        Route(USER_API + "/webapps/", WebappListHandler, kwargs),
        Route(USER_API + "/webapps/{domain}/", WebappHandler, kwargs),
        Route(USER_API + "/webapps/{domain}/reload/", WebappReloadHandler, kwargs),
        Route(USER_API + "/webapps/{domain}/enable/", WebappEnableHandler, kwargs),
        Route(USER_API + "/webapps/{domain}/disable/", WebappDisableHandler, kwargs),
        Route(USER_API + "/webapps/{domain}/static_files/", StaticFilesHandler, kwargs),
        Route(USER_API + "/webapps/{domain}/static_files/{static_id}/", StaticFileHandler, kwargs),
    ]


def api_v1_routes(services: Services) -> list[Route]:
    """PythonAnywhere's API v1 (websites); documented in docs/api.md."""
    kwargs = {"services": services}
    base = API_V1 + "/user/{owner}/websites/"
    return [
        Route(base, WebsiteListHandler, kwargs),
        Route(base + "{domain}/", WebsiteHandler, kwargs),
        Route(base + "{domain}/reload/", WebsiteReloadHandler, kwargs),
    ]


def page_routes(services: Services) -> list[Route]:
    kwargs = {"services": services}
    return [
        *file_routes(services)[1],
        Route("/", DashboardHandler, kwargs),
        Route("/login/", LoginHandler, kwargs),
        Route("/logout/", LogoutHandler, kwargs),
        Route("/signup/", SignupHandler, kwargs),
        Route("/account/", AccountHandler, kwargs),
        Route("/user/{owner}/consoles/", ConsolesPage, kwargs),
        Route("/user/{owner}/webapps/", WebappsPage, kwargs),
        Route("/webapps/owner-pass/", OwnerPassPage, kwargs),
        Route("/user/{owner}/consoles/{console_id}/", ConsolePage, kwargs),
        Route("/user/{owner}/consoles/{console_id}/frame/", FramePage, kwargs),
        Route("/user/{owner}/consoles/{console_id}/frame", FramePage, kwargs),
        Route("/user/{owner}/tasks/", TasksPage, kwargs),
        *sharing_routes(services)[1],
    ]


def make_app(services: Services) -> tornado.web.Application:
    settings = services.settings
    console_router = make_console_router(services.console_manager, services.console_policy.authorize)
    handlers: list[Any] = [*console_router.urls]
    if settings.node_path:
        # Behind a proxy that routes this path to this node and passes it on unchanged.
        handlers += make_console_router(services.console_manager, services.console_policy.authorize,
                                        prefix=settings.node_path + STREAM_PATH).urls
    handlers += [
        (API_PREFIX + r"/openapi\.yaml", OpenApiHandler),
        *api_routes(services),
        *api_v1_routes(services),
        # Whatever else is under /api/ gets a JSON 404, never a page.
        (r"/api(/.*)?$", NotFoundApi, {"services": services}),
        *page_routes(services),
    ]
    return IdeApplication(
        handlers,
        transforms=[security_headers(settings.secure_cookies,
                                     exempt=lambda request: services.webapps.is_app_host(request.host_name))],
        webapp_front=(services, AppProxy(settings.webapp_timeout)),
        cookie_secret=services.cookie_secret,
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"samesite": "Lax", "secure": settings.secure_cookies},
        login_url="/login/",
        static_path=str(STATIC_DIR),
        static_handler_class=StaticHandler,
        default_handler_class=NotFoundPage,
        default_handler_args={"services": services},
        websocket_ping_interval=25,
        # A WebSocket message is read whole before anyone looks at it, like a body.
        websocket_max_message_size=BODY_LIMIT,
    )
