"""Consoles: programs on PTYs, their scrollback, and streaming them to browsers.

May import ``sandbox``, never ``ide``: who may attach and with which rights
is decided by the web layer and passed in (``authorize``, ``limit``).
"""
from consoles.access import Access, AttachRequest
from consoles.console import Console, ConsoleNotRunning
from consoles.fanout import FlowLimits
from consoles.kinds import ConsoleKind, discover_kinds
from consoles.launchers import Launcher, LauncherInvalid, LauncherNotFound, LauncherStore
from consoles.manager import ConsoleLimitReached, ConsoleManager
from consoles.processes import ProcessInfo, ProcessNotYours, cpu_seconds_by_root, kill_process, list_processes
from consoles.pty_channel import InputBufferFull
from consoles.registry import ConsoleRecord
from consoles.scrollback import Scrollback
from consoles.signing import NodeKey
from consoles.stream import STREAM_PATH, make_console_router

__all__ = [
    "STREAM_PATH", "Access", "AttachRequest", "Console", "ConsoleKind", "ConsoleLimitReached", "ConsoleManager",
    "ConsoleNotRunning", "ConsoleRecord", "FlowLimits", "InputBufferFull", "Launcher",
    "LauncherInvalid", "LauncherNotFound", "LauncherStore", "NodeKey", "ProcessInfo", "ProcessNotYours", "Scrollback",
    "cpu_seconds_by_root", "discover_kinds", "kill_process", "list_processes", "make_console_router",
]
