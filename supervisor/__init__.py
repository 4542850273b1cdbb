"""One supervisor for every user program that runs without a console.

Web apps and always-on tasks are programs kept running: started in the
user's sandbox (``sandbox.background``), watched, restarted with back-off
when they crash, stopped on request.  The supervisor is the only judge of
whether a program runs; a failed connection to it proves nothing.  It sits
above ``sandbox`` and below ``ide``, and imports neither ``ide`` nor
``consoles``.
"""
from supervisor.spec import ProgramSpec, ProgramState, ProgramStatus, RestartPolicy
from supervisor.supervisor import ProgramFailed, ProgramUnknown, Supervisor

__all__ = ["ProgramFailed", "ProgramSpec", "ProgramState", "ProgramStatus", "ProgramUnknown", "RestartPolicy",
           "Supervisor"]
