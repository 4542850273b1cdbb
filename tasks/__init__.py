"""Users' scheduled tasks: what they are, when they are due, where they are kept.

Running them is the supervisor's job; this package knows only tasks.
"""
