"""The one error a user should ever see from bad input."""

from __future__ import annotations


class ScenarioError(ValueError):
    """Bad input, described in one line: the file, the key path and what was expected."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source = source
        self.path = path
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.source}: {self.path}: " if self.path else f"{self.source}: "
        return (where + self.message).replace("\n", " ")
