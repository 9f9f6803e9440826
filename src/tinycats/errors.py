"""The base of every error a user can cause and the program can explain.

The CLI catches ``TinycatsError`` and prints its message as one clear line (exit code 2) instead
of a traceback. Raise a subclass (or this) for bad input, missing files, mismatched models, etc.
"""


class TinycatsError(Exception):
    pass
