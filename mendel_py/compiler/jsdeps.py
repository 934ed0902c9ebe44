"""Find the `require("...")` calls of a CommonJS file with a small JavaScript tokenizer.

The scanner jumps from one "interesting" character to the next (quotes, backticks, slashes,
brackets, and the words `require`, `import`, `export`) and skips comments, strings, template
literals (with nested `${}`), and regular-expression literals as whole tokens, so a `require`
inside any of them is not a dependency. Whether a `/` starts a regular expression or is a
division is decided from the previous significant token, as JavaScript tokenizers do: after a
name, a number, a literal, `)` or `]` it divides; after an operator, an opening bracket, `}`, a
keyword such as `return`, the `)` of an `if (...)` / `while (...)` / `for (...)` head, or at the
start of the file it starts a regular expression.

`import` / `export` statements at the top level mean the file is an ES module: it has to be
transpiled to CommonJS before `mendel build`, so that is an error.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import BuildError


@dataclass(frozen=True)
class Require:
    """One `require("spec")` call: the specifier as written and its 1-based line."""

    spec: str
    line: int


_INTERESTING = re.compile(r"""[/'"`{}()\[\]]|(?<![\w$])(?:require|import|export)(?![\w$])""")
_STRINGS = {
    "'": re.compile(r"'(?:[^'\\\n\r]|\\(?:\r\n|[\s\S]))*'"),
    '"': re.compile(r'"(?:[^"\\\n\r]|\\(?:\r\n|[\s\S]))*"'),
}
_TEMPLATE_CHUNK = re.compile(r"(?:[^`\\$]|\\[\s\S]|\$(?!\{))*")
_REGEX_LITERAL = re.compile(r"/(?:[^/\\\[\n\r]|\\[^\n\r]|\[(?:[^\]\\\n\r]|\\[^\n\r])*\])+/[\w$]*")
_REQUIRE_CALL = re.compile(
    r"""\s*\(\s*(?:'((?:[^'\\\n\r]|\\.)*)'|"((?:[^"\\\n\r]|\\.)*)"|`([^`\\$]*)`)\s*\)"""
)
_SPACES = re.compile(r"\s*")
_SPACE = frozenset(" \t\n\r\v\f\u00a0\ufeff\u2028\u2029")
_KEYWORDS_BEFORE_EXPRESSION = frozenset(
    "return typeof instanceof in of new delete void throw case do else yield await".split()
)
_CONTROL_KEYWORDS = frozenset(("if", "while", "for", "with"))
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_ESCAPE = re.compile(r"\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[\s\S])")
TEMPLATE_SUBSTITUTION = "${"


def line_of(text: str, position: int) -> int:
    """The 1-based line number of `position` in `text`."""
    return text.count("\n", 0, position) + 1


def unescape_js_string(body: str) -> str:
    """The value of a JavaScript string literal's body (the part between the quotes)."""
    if "\\" not in body:
        return body
    return _ESCAPE.sub(_unescape_one, body)


def _unescape_one(match: re.Match[str]) -> str:
    escape = match.group(1)
    if escape.startswith("u{"):
        return chr(int(escape[2:-1], 16))
    if escape[0] in "ux" and len(escape) > 1:
        return chr(int(escape[1:], 16))
    if escape in "\n\r\u2028\u2029":
        return ""
    return _SIMPLE_ESCAPES.get(escape, escape)


def find_requires(text: str, file: str) -> list[Require]:
    """Every `require("...")` with a literal specifier in a CommonJS source, in source order."""
    return _Scanner(text, file).run()


class _Scanner:
    """One pass over one source file; see the module docstring."""

    def __init__(self, text: str, file: str):
        self.text = text
        self.file = file
        self.requires: list[Require] = []
        self.brackets: list[tuple[str, int]] = []  # (opener, position); "${" for substitutions
        self.comment_starts: dict[int, int] = {}  # end of a comment -> its start
        self.regex_ends: set[int] = set()
        self.control_heads: set[int] = set()  # "(" of `if (...)`, `while (...)`, ...
        self.control_head_ends: set[int] = set()  # just after their ")"

    def run(self) -> list[Require]:
        text = self.text
        position = self._after_hashbang()
        while True:
            match = _INTERESTING.search(text, position)
            if match is None:
                break
            token, start = match.group(), match.start()
            if token == "/":
                position = self._slash(start)
            elif token in _STRINGS:
                position = self._string(start)
            elif token == "`":
                position = self._template(start + 1, start)
            elif token in "{([":
                self._opening(token, start)
                position = start + 1
            elif token in "})]":
                position = self._closing(token, start)
            elif token == "require":
                position = self._require(start, match.end())
            else:
                position = self._module_keyword(token, start, match.end())
        self._check_open_templates()
        return self.requires

    # ------------------------------------------------------------------ tokens

    def _after_hashbang(self) -> int:
        if self.text.startswith("#!"):
            newline = self.text.find("\n")
            return len(self.text) if newline < 0 else newline
        return 0

    def _slash(self, start: int) -> int:
        text = self.text
        following = text[start + 1 : start + 2]
        if following == "/":
            end = text.find("\n", start)
            end = len(text) if end < 0 else end
            self.comment_starts[end] = start
            return end
        if following == "*":
            end = text.find("*/", start + 2)
            if end < 0:
                raise self._error("unterminated comment", start)
            self.comment_starts[end + 2] = start
            return end + 2
        if not self._regex_allowed(start):
            return start + 1
        match = _REGEX_LITERAL.match(text, start)
        if match is None:
            raise self._error("unterminated regular expression literal", start)
        self.regex_ends.add(match.end())
        return match.end()

    def _string(self, start: int) -> int:
        match = _STRINGS[self.text[start]].match(self.text, start)
        if match is None:
            raise self._error("unterminated string literal", start)
        return match.end()

    def _template(self, position: int, start: int) -> int:
        """Scan template text from `position` up to its closing backtick or next `${`."""
        end = _TEMPLATE_CHUNK.match(self.text, position).end()
        if self.text.startswith("`", end):
            return end + 1
        if self.text.startswith(TEMPLATE_SUBSTITUTION, end):
            self.brackets.append((TEMPLATE_SUBSTITUTION, start))
            return end + 2
        raise self._error("unterminated template literal", start)

    def _opening(self, token: str, start: int) -> None:
        self.brackets.append((token, start))
        if token == "(" and self._word_before(start) in _CONTROL_KEYWORDS:
            self.control_heads.add(start)

    def _closing(self, token: str, start: int) -> int:
        if token == "}" and self.brackets and self.brackets[-1][0] == TEMPLATE_SUBSTITUTION:
            _, template_start = self.brackets.pop()
            return self._template(start + 1, template_start)
        if self.brackets:
            _, opened = self.brackets.pop()
            if opened in self.control_heads:
                self.control_head_ends.add(start + 1)
        return start + 1

    def _require(self, start: int, end: int) -> int:
        if self._is_property(start):
            return end
        call = _REQUIRE_CALL.match(self.text, end)
        if call is None:
            return end
        single, double, template = call.groups()
        body = single if single is not None else double if double is not None else template
        spec = body if template is not None else unescape_js_string(body)
        self.requires.append(Require(spec, line_of(self.text, start)))
        return call.end()

    def _module_keyword(self, token: str, start: int, end: int) -> int:
        if self.brackets or self._is_property(start):
            return end
        following = self._next_significant_char(end)
        if token == "import" and following not in ("(", "."):
            raise self._es_module_error(token, start)
        if token == "export" and (following in ("{", "*") or _is_identifier_char(following)):
            raise self._es_module_error(token, start)
        return end

    def _check_open_templates(self) -> None:
        for opener, start in self.brackets:
            if opener == TEMPLATE_SUBSTITUTION:
                raise self._error("unterminated template literal", start)

    # ------------------------------------------------------------ lookaround

    def _regex_allowed(self, slash: int) -> bool:
        """Whether a `/` at `slash` (not a comment) starts a regular expression literal."""
        text = self.text
        index = self._previous_significant(slash)
        if index < 0:
            return True
        char = text[index]
        if char == ")":
            return index + 1 in self.control_head_ends
        if char in "]'\"`":
            return False
        if char == "}":
            return True
        if char == "/":
            return index + 1 not in self.regex_ends
        if char in "+-":
            return index == 0 or text[index - 1] != char
        if char == ".":
            return False
        if _is_identifier_char(char):
            return self._word_before(slash) in _KEYWORDS_BEFORE_EXPRESSION
        return True

    def _word_before(self, position: int) -> str:
        """The keyword or name just before `position` ("" if none, or if it is a property)."""
        text = self.text
        index = self._previous_significant(position)
        if index < 0 or not _is_identifier_char(text[index]):
            return ""
        word_start = index
        while word_start > 0 and _is_identifier_char(text[word_start - 1]):
            word_start -= 1
        if text[word_start].isdigit() or self._is_property(word_start):
            return ""
        return text[word_start : index + 1]

    def _previous_significant(self, position: int) -> int:
        """Index of the last character before `position` that is not space or comment; -1 if none."""
        text = self.text
        index = position - 1
        while index >= 0:
            if text[index] in _SPACE:
                index -= 1
            elif index + 1 in self.comment_starts:
                index = self.comment_starts[index + 1] - 1
            else:
                return index
        return -1

    def _next_significant_char(self, position: int) -> str:
        end = _SPACES.match(self.text, position).end()
        return self.text[end : end + 1]

    def _is_property(self, word_start: int) -> bool:
        """Whether the word at `word_start` follows a `.` (a property name, not a keyword)."""
        index = self._previous_significant(word_start)
        if index < 0 or self.text[index] != ".":
            return False
        return not self.text.endswith("...", 0, index + 1)

    # ---------------------------------------------------------------- errors

    def _error(self, message: str, position: int) -> BuildError:
        return BuildError(message, self.file, line_of(self.text, position))

    def _es_module_error(self, keyword: str, position: int) -> BuildError:
        return self._error(
            f"ES module syntax (`{keyword}` statement) is not supported: transpile the file to "
            "CommonJS (require / module.exports) before running mendel build",
            position,
        )


def _is_identifier_char(char: str) -> bool:
    return bool(char) and (char.isalnum() or char in "_$")
