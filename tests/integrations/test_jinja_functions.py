"""Mendel's template functions in Jinja (`mendel_py.integrations.jinja_functions`): calls compiled
to filters and names resolved by the context class give what plain globals give, per request."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import Environment
from jinja2.runtime import Context
from markupsafe import Markup

from mendel_py.integrations.jinja import template_filters, template_globals
from mendel_py.integrations.jinja_functions import MendelContext, install_template_functions


class FakeResolver:
    """Tags that name the request, so a tag baked into a template would show."""

    def __init__(self, request: str):
        self.request = request

    def script_tag(self, bundle: str, integrity: bool | None = None, **attributes: Any) -> Markup:
        extra = "".join(f" {k}={v}" for k, v in sorted(attributes.items()))
        return Markup(f'<script src="/{self.request}/{bundle}.js" integrity={integrity}{extra}></script>')

    def stylesheet_tag(self, bundle: str, integrity: bool | None = None, **attributes: Any) -> Markup:
        return Markup(f'<link href="/{self.request}/{bundle}.css">')

    def bundle_url(self, bundle: str) -> str:
        return f"/{self.request}/{bundle}.js?a&b"

    def render(self, bundle: str, props: Any = None) -> str:
        return f"<div data-request={self.request}>{Markup.escape(repr(props))}</div>"


def environments() -> tuple[Environment, Environment, list[FakeResolver]]:
    """(Mendel's install, plain globals over the same resolver), and the resolver holder."""
    current = [FakeResolver("r1")]
    mendel = Environment(autoescape=True)
    install_template_functions(mendel, template_globals(lambda: current[0]), template_filters(lambda: current[0]))
    plain = Environment(autoescape=True)
    plain.globals.update(template_globals(lambda: current[0]))
    return mendel, plain, current


TEMPLATES = [
    '{{ mendel_script("main") }}{{ mendel_stylesheet("css") }}',
    '{{ mendel_script("main", True) }}|{{ mendel_script("main", integrity=False, defer="defer") }}',
    '{{ "x" ~ mendel_script("main") ~ "y" }}',
    '{{ mendel_script(("ma" ~ "in")) }}{{ mendel_script(["a", "b"][1]) }}',
    '{{ mendel_bundle_url("main") }} {{ mendel_script(mendel_bundle_url("x")) }}',
    '{{ mendel_render("box", {"a": [1, (2, 3)], "b": "<&>"}) }}',
    '{{ mendel_script("main").replace("src", "data-src") }}{{ mendel_script("main")[1:7] }}',
    '{{ mendel_script(bundle="main") }}',  # keyword only: the name resolved
    '{{ mendel_script is defined }}',
    '{% set f = mendel_script %}{{ f("main") }}{{ mendel_script("css") }}',  # a block: as written
    '{% if mendel_render is defined %}{{ mendel_render("a") }}{% endif %}',
    '{% for i in [1, 2] %}{{ mendel_script("b" ~ i) }}{% endfor %}',
    '{% macro m(name) %}{{ mendel_script(name) }}{% endmacro %}{{ m("main") }}',
    '{% raw %}{{ mendel_script("main") }}{% endraw %}',
]


@pytest.mark.parametrize("source", TEMPLATES)
def test_a_template_renders_what_plain_globals_render(source: str) -> None:
    mendel, plain, current = environments()
    compiled, reference = mendel.from_string(source), plain.from_string(source)
    for request in ("r1", "r2"):  # one compiled template, two requests: nothing of r1 stays
        current[0] = FakeResolver(request)
        assert compiled.render() == reference.render()
        if "raw" not in source and "is defined }}" not in source:
            assert request in compiled.render()


def test_calls_in_output_compile_to_filters_and_blocks_stay_as_written() -> None:
    mendel, _plain, _current = environments()
    assert "t_1(context, 'main')" in mendel.compile('{{ mendel_script("main") }}', raw=True)
    assert "context.call" not in mendel.compile('{{ mendel_script("main") }}{{ mendel_stylesheet("c") }}', raw=True)
    as_written = mendel.compile('{% set x = mendel_script("a") %}{{ x }}{{ mendel_script("b") }}', raw=True)
    assert "context.call" in as_written and "filters['_mendel_script']" not in as_written


def test_a_render_variable_of_the_same_name_shadows_the_function() -> None:
    mendel, _plain, _current = environments()
    assert mendel.from_string("{{ mendel_bundle_url }}").render(mendel_bundle_url="mine") == "mine"


def test_the_functions_are_not_copied_into_every_context() -> None:
    mendel, _plain, _current = environments()
    assert "mendel_script" not in mendel.globals
    assert issubclass(mendel.context_class, MendelContext)
    template = mendel.from_string("{{ 1 }}")
    assert "mendel_script" not in template.new_context().parent


def test_an_environment_with_its_own_context_class_gets_globals() -> None:
    class Own(Context):
        pass

    current = [FakeResolver("r1")]
    env = Environment(autoescape=True)
    env.context_class = Own
    install_template_functions(env, template_globals(lambda: current[0]), template_filters(lambda: current[0]))
    assert env.context_class is Own and "mendel_script" in env.globals
    assert env.from_string('{{ mendel_script("main") }}').render() == str(current[0].script_tag("main"))


def test_functions_and_filters_must_match() -> None:
    with pytest.raises(ValueError, match="differ"):
        install_template_functions(Environment(), {"mendel_script": print}, {})


# --------------------------------------------------------------------------- any template

NAMES = ("mendel_script", "mendel_stylesheet", "mendel_bundle_url", "mendel_render")


def _expressions() -> st.SearchStrategy[str]:
    """Jinja expressions mixing Mendel calls with literals, operators, filters and subscripts."""
    literal = st.sampled_from(['"main"', "'css'", '"a<b>&"', "1", "none", '["x", "y"][0]', '{"k": 1}'])

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        call = st.builds(lambda name, first, rest: f"{name}({first}{rest})", st.sampled_from(NAMES[:3]), inner,
                         st.sampled_from(["", ", True", ", integrity=False", ", defer='defer'", ", *[]"]))
        keyword_call = st.builds(lambda name, value: f"{name}(bundle={value})", st.sampled_from(NAMES[:2]), inner)
        return st.one_of(
            call, keyword_call,
            st.builds(lambda a, b: f"({a}) ~ ({b})", inner, inner),
            st.builds(lambda a: f"({a})|string|length", inner),
            st.builds(lambda a: f"({a})[1:5]", inner),
            st.builds(lambda a: f"[{a}, 2]|first", inner),
            st.builds(lambda a, b: f"({a} if {b} else 'no')", inner, inner),
        )

    return st.recursive(literal, extend, max_leaves=6)


def _templates() -> st.SearchStrategy[str]:
    output = st.builds(lambda e: "{{ " + e + " }}", _expressions())
    block = st.one_of(
        st.builds(lambda e: "{% set t = " + e + " %}{{ t }}", _expressions()),  # (a name here: as written)
        st.builds(lambda e: "{% if " + e + " %}yes{% endif %}", _expressions()),
        st.just("{% if mendel_render is defined %}d{% endif %}"),
        st.just("{% for i in [1, 2] %}{{ i }}{% endfor %}"),  # (no name: the rest is rewritten)
    )
    text = st.sampled_from(["<p>", "text", "\n"])
    parts = st.lists(st.one_of(output, text), min_size=1, max_size=5)
    return st.one_of(parts.map("".join), st.builds(lambda a, b: "".join(a) + b, parts, block))


@settings(max_examples=400, deadline=None)
@given(_templates())
def test_any_template_renders_what_plain_globals_render(source: str) -> None:
    mendel, plain, current = environments()
    try:
        reference = plain.from_string(source)
    except Exception as error:  # (Jinja refuses it: so it refuses the rewritten one)
        with pytest.raises(type(error)):
            mendel.from_string(source)
        return
    compiled = mendel.from_string(source)
    for request in ("r1", "r2"):
        current[0] = FakeResolver(request)
        try:
            expected = reference.render()
        except Exception as error:  # (a render error: the same error from the rewritten template)
            with pytest.raises(type(error)):
                compiled.render()
            continue
        assert compiled.render() == expected


@pytest.mark.parametrize("kind", ["async", "sandboxed"])
def test_async_and_sandboxed_environments_render_the_calls(kind: str) -> None:
    import asyncio

    from jinja2.sandbox import SandboxedEnvironment

    current = [FakeResolver("r1")]
    env = Environment(autoescape=True, enable_async=True) if kind == "async" else SandboxedEnvironment(autoescape=True)
    install_template_functions(env, template_globals(lambda: current[0]), template_filters(lambda: current[0]))
    expected = '<script src="/r1/main.js" integrity=None></script>|/r1/a.js?a&amp;b'
    for source in ('{{ mendel_script("main") }}|{{ mendel_bundle_url("a") }}',  # the calls as filters
                   '{% if mendel_render is defined %}{{ mendel_script("main") }}|{{ mendel_bundle_url("a") }}{% endif %}'):
        template = env.from_string(source)
        assert (asyncio.run(template.render_async()) if kind == "async" else template.render()) == expected
