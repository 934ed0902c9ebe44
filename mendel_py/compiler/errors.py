"""The one error type of `mendel build`: a message plus the file and line it is about."""
from __future__ import annotations

from ..errors import MendelError


class BuildError(MendelError):
    """A source file, bundle entry or dependency that can't be turned into a manifest."""

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

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description (for `mendel build --json`)."""
        return {"message": self.message, "file": self.file, "line": self.line}
