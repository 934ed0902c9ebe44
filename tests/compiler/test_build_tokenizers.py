"""The JavaScript `require` scanner and the CSS `@import` scanner of `mendel build`."""
from __future__ import annotations

import pytest

from mendel_py.compiler.cssdeps import find_imports, strip_imports
from mendel_py.compiler.errors import BuildError
from mendel_py.compiler.jsdeps import find_requires, scan, unescape_js_string


def specs(source: str) -> list[str]:
    return [found.spec for found in find_requires(source, "f.js")]


# ---------------------------------------------------------------- JavaScript: what counts


def test_plain_requires_in_order_with_lines() -> None:
    found = find_requires("var a = require('./a');\n\nvar b = require(\"b/c\");\n", "f.js")
    assert [(r.spec, r.line) for r in found] == [("./a", 1), ("b/c", 3)]


@pytest.mark.parametrize(
    "source",
    [
        "// require('no')\nrequire('yes')",
        "/* require('no') \n still comment */ require('yes')",
        "/** @example require('no') */\nrequire('yes')",
    ],
)
def test_requires_in_comments_are_ignored(source: str) -> None:
    assert specs(source) == ["yes"]


@pytest.mark.parametrize(
    "source",
    [
        "var s = \"require('no')\"; require('yes')",
        "var s = 'require(\"no\")'; require('yes')",
        "var s = 'it\\'s require(\"no\")'; require('yes')",
        "var s = \"a \\\" require('no') \\\"\"; require('yes')",
        "var s = 'line \\\ncontinued require(\"no\")'; require('yes')",
    ],
)
def test_requires_in_strings_are_ignored(source: str) -> None:
    assert specs(source) == ["yes"]


def test_template_literals_skip_text_but_scan_substitutions() -> None:
    source = "var t = `require('no') ${ require('a') } and ${ `nested ${ require('b') } require('no')` }`;"
    assert specs(source) == ["a", "b"]


def test_template_substitution_with_object_literal_braces() -> None:
    source = "var t = `${ fn({ a: { b: 1 } }) } require('no')`; require('yes')"
    assert specs(source) == ["yes"]


@pytest.mark.parametrize(
    "source",
    [
        'var r = /require("no")/g; require("yes")',
        'var r = /[/]require("no")/; require("yes")',
        'if (/require\\("no"\\)/.test(x)) { require("yes") }',
        'return /"/.test(s) ? require("yes") : 0',
        'x = a ? /require("no")/ : b; require("yes")',
        'f(/require("no")/, require("yes"))',
        'if (x) {} /require("no")/.exec(s); require("yes")',
        '// line comment\n/require("no")/.test(s); require("yes")',
        'typeof /require("no")/; require("yes")',
        "if (ok) /'/.test(s); require(\"yes\")",
        'while (m = re.exec(s)) /require("no")/g.lastIndex = 0; require("yes")',
        'for (;;) /"/.test(s) && require("yes")',
    ],
)
def test_regex_literals_are_skipped(source: str) -> None:
    assert specs(source) == ["yes"]


@pytest.mark.parametrize(
    "source",
    [
        'var q = a / require("yes") / 2;',
        'var q = (a) / require("yes");',
        'var q = arr[0] / require("yes");',
        'var q = 10 / require("yes");',
        'var q = i++ / require("yes");',
        'var q = a /* c */ / require("yes");',
        'var q = "s".length / require("yes");',
        'var q = a\n/ require("yes");',
        'var q = f(x) / require("yes");',
        'var q = o.if(x) / require("yes");',
    ],
)
def test_division_is_not_a_regex(source: str) -> None:
    assert specs(source) == ["yes"]


def test_regex_then_division_then_regex() -> None:
    assert specs('x = /a/g / 2 / /b/.source.length; require("yes")') == ["yes"]


@pytest.mark.parametrize(
    "source",
    [
        "foo.require('no')",
        "obj . require('no')",
        "myrequire('no')",
        "require_x('no')",
        "require(name)",
        "require('a' + b)",
        "require(`a${b}`)",
    ],
)
def test_only_literal_calls_of_the_free_require_count(source: str) -> None:
    assert specs(source) == []


def test_template_without_substitution_and_spread_count() -> None:
    assert specs("require(`tpl`); [...require('spread')]") == ["tpl", "spread"]


def test_escapes_in_specifiers_are_decoded() -> None:
    assert specs(r"require('\x61\u0062\u{63}\'')") == ["abc'"]
    assert unescape_js_string(r"a\nb") == "a\nb"


def test_hashbang_line_is_skipped() -> None:
    assert [(r.spec, r.line) for r in find_requires("#!/usr/bin/env node\nrequire('x')", "f.js")] == [("x", 2)]


def test_dynamic_import_and_import_meta_are_not_es_module_statements() -> None:
    assert specs("import('x').then(f); var u = import.meta; require('y')") == ["y"]


def test_import_and_export_as_property_names_are_fine() -> None:
    assert specs("var o = { import: 1, export: 2 }; o.import(); o.export; require('y')") == ["y"]


# ---------------------------------------------------------------- JavaScript: errors


@pytest.mark.parametrize(
    ("source", "message", "line"),
    [
        ("var a = 1;\nvar s = 'abc\n", "unterminated string literal", 2),
        ('var s = "abc', "unterminated string literal", 1),
        ("x;\n\n/* open comment", "unterminated comment", 3),
        ("var t = `abc ${ x }\n more", "unterminated template literal", 1),
        ("var t = `a ${ b ", "unterminated template literal", 1),
        ("x = 1;\ny = /abc\n/", "unterminated regular expression literal", 2),
    ],
)
def test_tokenizer_failures_name_file_and_line(source: str, message: str, line: int) -> None:
    with pytest.raises(BuildError) as caught:
        find_requires(source, "src/base/bad.js")
    error = caught.value
    assert (error.file, error.line, error.message) == ("src/base/bad.js", line, message)
    assert error.column is not None and error.column >= 1
    assert str(error) == f"src/base/bad.js:{line}:{error.column}: {message}"


def test_es_module_specifiers_are_dependencies_in_source_order() -> None:
    source = (
        "import x from './x';\n"
        "import './side-effect';\n"
        "import { a as b } from 'a';\n"
        "export * from './star';\n"
        "export { c } from './c';\n"
        "const y = require('./y');\n"
        "export const z = 1;\n"
    )
    found = find_requires(source, "src/base/esm.js")
    assert [(r.spec, r.line) for r in found] == [
        ("./x", 1), ("./side-effect", 2), ("a", 3), ("./star", 4), ("./c", 5), ("./y", 6),
    ]


def test_dynamic_import_with_a_literal_is_lazy_and_not_a_require() -> None:
    found = scan(b"var p = import('./lazy.js');\nimport(name);\nimport(`./t.js`);\n", "f.js")
    assert found.requires == [] and not found.is_module
    assert [(d.spec, d.line) for d in found.lazy] == [("./lazy.js", 1), ("./t.js", 3)]


def test_import_inside_a_block_is_not_top_level() -> None:
    assert specs("function f() { var x = { import: 1 }; }\nrequire('y')") == ["y"]


# ---------------------------------------------------------------- CSS


def test_css_imports_both_forms_with_lines_and_media() -> None:
    css = (
        '@import "./a.css";\n'
        "@import url(b.css);\n"
        "@import url('./c.css') screen and (min-width: 10px);\n"
        '@IMPORT url("d.css");\n'
        "@import 'https://fonts.example/e.css';\n"
        ".x { color: red; }\n"
    )
    found = find_imports(css, "s.css")
    assert [(rule.spec, rule.line) for rule in found] == [
        ("./a.css", 1), ("b.css", 2), ("./c.css", 3), ("d.css", 4), ("https://fonts.example/e.css", 5),
    ]
    assert [rule.is_remote for rule in found] == [False, False, False, False, True]


def test_css_imports_in_comments_strings_and_blocks_are_ignored() -> None:
    css = (
        '/* @import "no.css"; */\n'
        '.a::before { content: "@import \'no.css\';"; }\n'
        '@media print { @import "no.css"; }\n'
        '@import "yes.css";\n'
    )
    assert [rule.spec for rule in find_imports(css, "s.css")] == ["yes.css"]


def test_strip_imports_removes_whole_rules() -> None:
    css = '@import "./a.css";\n@import url(https://x/y.css);\n.b { c: d; }\n'
    found = find_imports(css, "s.css")
    assert strip_imports(css, [rule for rule in found if not rule.is_remote]) == (
        "@import url(https://x/y.css);\n.b { c: d; }\n"
    )


@pytest.mark.parametrize(
    ("css", "message", "line"),
    [
        ("a {}\n/* open", "unterminated comment", 2),
        ('a { content: "open }\n', "unterminated string", 1),
        ("\n@import foo.css;", "malformed @import", 2),
    ],
)
def test_css_errors_name_file_and_line(css: str, message: str, line: int) -> None:
    with pytest.raises(BuildError) as caught:
        find_imports(css, "s.css")
    assert caught.value.file == "s.css" and caught.value.line == line
    assert caught.value.message.startswith(message)
