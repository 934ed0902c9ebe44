"""What every `mendel` command shares: its options and settings, JSON and table output, errors
and exit codes. Commands live in `cli.py` or next to their feature and import these from here
(or from `mendel_py.cli`, which re-exports them).

Settings: `--basedir`, `--hash-format`, `--hash-key` and `--env` also read `MENDEL_BASEDIR`,
`MENDEL_HASH_FORMAT`, `MENDEL_HASH_KEY` and `MENDEL_ENV` (click's `envvar=`). When an option is
not on the command line, a host that mounts the group wins over the environment: first the click
context object of the command or a parent (a mapping with the key, Flask's `ScriptInfo` (its app's
config: what `app.test_cli_runner()` passes), or an object with the lower-cased attribute), then
`current_app.config` of an active Flask app context (so `flask mendel ...` follows the app's
settings); otherwise the project folder is ".", the hash format the config's (else v3).

Exit codes: 0 ok, 1 a problem found (bad hash, invalid config or manifest, unknown bundle, stale
manifests, ...), 2 bad usage. Errors are a single `Error: ...` line on stderr; with `--json` the
`{"error": {"type", "message", <location fields>}}` object is also written to stdout.
"""
from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from ..core.hashcodec import FORMATS as HASH_FORMATS
from ..errors import MendelError

if TYPE_CHECKING:
    from ..config.model import MendelConfig
    from ..core.trees import MendelTrees

BASEDIR_KEY = "MENDEL_BASEDIR"

Report = dict[str, Any]


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    """The options every command shares."""

    basedir: str
    hash_format: str | None
    hash_key: str | bytes | None
    env: str | None
    as_json: bool


def host_setting(name: str, ctx: click.Context | None = None) -> Any:
    """A MENDEL_* value from a host that mounts the group: context object, then Flask app config."""
    ctx = ctx or click.get_current_context(silent=True)
    return setting_from_context(ctx, name) or setting_from_flask_app(name) or None


def setting_from_context(ctx: click.Context | None, name: str) -> Any:
    """The setting carried by the context object of `ctx` or one of its parents."""
    while ctx is not None:
        value = setting_from_object(ctx.obj, name)
        if value:
            return value
        ctx = ctx.parent
    return None


def setting_from_object(obj: Any, name: str) -> Any:
    """`obj[name]`, a Flask ScriptInfo's `app.config[name]`, or `obj.<name lowercased>`."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    if callable(getattr(obj, "load_app", None)):
        return obj.load_app().config.get(name)
    return getattr(obj, name.lower(), None)


def setting_from_flask_app(name: str) -> Any:
    """`current_app.config[name]`, if Flask is loaded and an app context is pushed."""
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_app_context():
        return None
    return flask.current_app.config.get(name)


def resolve_setting(ctx: click.Context, param: str, key: str, value: Any) -> Any:
    """The option's value: the command line's, else the host's, else the environment's (envvar=)."""
    if ctx.get_parameter_source(param) == ParameterSource.COMMANDLINE:
        return value
    return host_setting(key, ctx) or value


def default_basedir(ctx: click.Context | None = None) -> str:
    """The project folder when `--basedir` is not given: the host's MENDEL_BASEDIR, else '.'."""
    import os

    value = host_setting(BASEDIR_KEY, ctx) or os.environ.get(BASEDIR_KEY)
    return os.fspath(value) if value else "."


def project_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --basedir/--env/--json; the command gets them (hash settings None) as one `Options`."""
    return _with_options(command, hash_options=False)


def common_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --basedir/--hash-format/--hash-key/--env/--json and pass them as one `Options`."""
    return _with_options(command, hash_options=True)


def _with_options(command: Callable[..., Any], hash_options: bool) -> Callable[..., Any]:
    @functools.wraps(command)
    def with_options(*args: Any, basedir: str | None, env: str | None, as_json: bool,
                     hash_format: str | None = None, hash_key: str | None = None,
                     **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        options = Options(
            basedir=resolve_setting(ctx, "basedir", BASEDIR_KEY, basedir) or ".",
            hash_format=resolve_setting(ctx, "hash_format", "MENDEL_HASH_FORMAT", hash_format)
            if hash_options else None,
            hash_key=resolve_setting(ctx, "hash_key", "MENDEL_HASH_KEY", hash_key)
            if hash_options else None,
            env=resolve_setting(ctx, "env", "MENDEL_ENV", env),
            as_json=as_json,
        )
        return command(options, *args, **kwargs)

    decorators = [
        click.option(
            "--basedir", type=click.Path(exists=True, file_okay=False), default=None, envvar=BASEDIR_KEY,
            show_envvar=True, help="Project folder (.mendelrc here or above). Default: '.'.",
        ),
        click.option(
            "--env", default=None, envvar="MENDEL_ENV", show_envvar=True,
            help="The .mendelrc env section to apply. Default: NODE_ENV, the file's, development.",
        ),
    ]
    if hash_options:
        decorators += [
            click.option(
                "--hash-format", type=click.Choice(HASH_FORMATS), default=None,
                envvar="MENDEL_HASH_FORMAT", show_envvar=True,
                help="Hash format to write. Default: the config's, else v3.",
            ),
            click.option(
                "--hash-key", default=None, envvar="MENDEL_HASH_KEY", show_envvar=True,
                help="Secret for keyed v3 hashes.",
            ),
        ]
    decorators.append(click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output."))
    for decorate in reversed(decorators):
        with_options = decorate(with_options)
    return with_options


# --------------------------------------------------------------------------- output


class CommandFailed(click.ClickException):
    """A problem found in the project or the input: one line on stderr, exit code 1."""

    exit_code = 1


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces, a dashed rule under the header."""
    cells = [[str(cell) for cell in row] for row in (headers, *rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """`name  value` lines with the values aligned."""
    width = max(len(name) for name, _ in pairs)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in pairs)


def emit(options: Options, report: Report, render: Callable[[Report], str]) -> None:
    """Write the report as JSON or as the human rendering."""
    if options.as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render(report))


@contextmanager
def reporting_errors(options: Options) -> Iterator[None]:
    """Turn a MendelError (or an unreadable file) into one stderr line and exit code 1."""
    try:
        yield
    except MendelError as error:
        if options.as_json:
            click.echo(json.dumps({"error": error.to_dict()}, indent=2))
        raise CommandFailed(error.describe()) from None
    except OSError as error:
        raise CommandFailed(describe_os_error(error)) from None


def describe_os_error(error: OSError) -> str:
    """`path: reason` for a file that can't be read."""
    reason = error.strerror or str(error)
    return f"{error.filename}: {reason}" if error.filename else reason


def load_trees(options: Options, config: MendelConfig | None = None) -> MendelTrees:
    """The project's MendelTrees (from `config` if given), with the options' hash settings: its
    manifests on disk (not the store's CURRENT, which only servers follow), with URLs of stored
    generations still decoded."""
    from ..core.trees import MendelTrees

    return MendelTrees(
        options.basedir, options.hash_format, options.hash_key, config=config, env=options.env, follow_current=False
    )


def selected_bundles(trees: MendelTrees, bundles: Sequence[str]) -> tuple[str, ...]:
    """The bundles asked for (checked to exist), or every bundle when none is named."""
    for bundle in bundles:
        trees.manifest(bundle)
    return tuple(bundles) or tuple(trees.bundles)
