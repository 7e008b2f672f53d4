"""The errors a user should ever see: bad input, and a run refused before it starts.

Every message is one printable line: control characters a scenario may carry in its keys
(terminal escape sequences, newlines) are shown escaped, and very long keys are shortened,
so an error can neither rewrite the terminal nor flood it.
"""

from __future__ import annotations

MAX_PATH_CHARS = 200
MAX_MESSAGE_CHARS = 600


def printable(text: str, limit: int) -> str:
    """`text` on one line with control characters escaped (`\\x1b`), at most `limit` chars."""
    shown = "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


class ScenarioError(ValueError):
    """Bad input, described in one line: the file, the key path and what was expected.

    Also what the Python API raises for bad arguments (seeds, counts, overrides), with the
    source `<arguments>` and the argument's name as the path.
    """

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source = source
        self.path = path
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        source = printable(str(self.source), MAX_PATH_CHARS)
        path = printable(str(self.path), MAX_PATH_CHARS)
        where = f"{source}: {path}: " if path else f"{source}: "
        return where + printable(str(self.message), MAX_MESSAGE_CHARS)


class BudgetError(ScenarioError):
    """A run refused before it starts: it would need more work or memory than the limits
    allow. Names the knob that drives the estimate, the estimate and the limit."""


class OutputError(ScenarioError):
    """An output folder that cannot be written as asked (a file, read-only, someone else's
    folder, locked by another writer), found before the run."""
