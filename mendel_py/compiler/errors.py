"""The one error type of `mendel build`: a message plus the file and line it is about."""
from __future__ import annotations

from ..errors import MendelError


class BuildError(MendelError):
    """A source file, bundle entry or dependency that can't be turned into a manifest."""

    fields = ("file", "line")

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.message = message
        self.file = file
        self.line = line
        super().__init__(f"{self.location}: {message}" if self.location else message)

    @property
    def location(self) -> str:
        """`file:line`, `file`, or "" when the error is about no file in particular."""
        if self.file and self.line:
            return f"{self.file}:{self.line}"
        return self.file or ""
