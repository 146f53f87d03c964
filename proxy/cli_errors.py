"""The one error a command raises for a user's mistake: shown as one line, exit status 2 (proxy/cli.py).

A module of its own, below the command line, so that feature modules with commands of their own (sync,
the audit commands) can raise it without importing the command line that imports them.
"""


class CommandError(Exception):
    """A command cannot do what was asked; the message is shown as is."""
