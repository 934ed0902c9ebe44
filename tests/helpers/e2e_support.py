"""Helpers for the example-shop tests: a built copy of the example, servers on free ports."""
from __future__ import annotations

import os
import queue
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
GUNICORN_CONF = EXAMPLES / "gunicorn.conf.py"
NGINX_CONF = EXAMPLES / "nginx.conf"
NGINX = "/usr/sbin/nginx"
START_TIMEOUT = 60.0
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def chromium_available() -> bool:
    """Debian's chromium and chromium-driver are installed (browser tests skip otherwise)."""
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


@contextmanager
def chromium(javascript: bool = True, window_size: str | None = None) -> Iterator:  # type: ignore[type-arg]
    """Headless Chromium through selenium, with a throw-away profile and the console log kept;
    `javascript=False` turns scripts off, `window_size` ("1000,1400") sets the window."""
    from selenium import webdriver

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    if window_size:
        options.add_argument(f"--window-size={window_size}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def build_example_project(dest: Path) -> Path:
    """Copy the example's .mendelrc and sources to `dest` and run `mendel build` there."""
    shutil.copy(REPO / ".mendelrc", dest / ".mendelrc")
    shutil.copytree(EXAMPLES / "shop" / "src", dest / "examples" / "shop" / "src")
    result = subprocess.run(
        [sys.executable, "-m", "mendel_py", "build", "--basedir", str(dest)],
        capture_output=True,
        text=True,
        cwd=dest,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"mendel build failed:\n{result.stdout}\n{result.stderr}")
    return dest


def deploy_example(project: Path, marker: str | None = None) -> str:
    """One deploy of an example project: change a base file (when `marker` is given), build and
    publish the generation, as `mendel build` does; returns the new current generation id."""
    from mendel_py.compiler import build_manifests
    from mendel_py.config import load_config
    from mendel_py.deploy.publish import publish_project

    if marker is not None:
        cart = project / "examples" / "shop" / "src" / "base" / "components" / "cart.js"
        cart.write_text(cart.read_text().split("\n// deploy")[0] + f"\n// deploy {marker}\n")
    config = load_config(project)
    build_manifests(config)
    published = publish_project(config)
    return published[0] if published else ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class HttpResult:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def http_get(
    url: str,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    form: Mapping[str, str] | None = None,
) -> HttpResult:
    """One HTTP request with urllib (redirects not followed); error statuses are returned."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, headers=dict(headers or {}), method=method)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=30) as response:
            return HttpResult(response.status, lower_headers(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return HttpResult(error.code, lower_headers(error.headers), error.read())


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def lower_headers(headers) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Header names lower-cased; repeated headers joined with ', '."""
    joined: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


class OutputWatcher:
    """Reads a process's output on a thread so a test can wait for a line to appear."""

    def __init__(self, stream) -> None:  # type: ignore[no-untyped-def]
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream) -> None:  # type: ignore[no-untyped-def]
        with stream:  # the watcher owns the pipe: closed at the end of the output
            for line in iter(stream.readline, ""):
                self.lines.put(line)
        self.lines.put("")

    def wait_for(self, text: str, count: int = 1, timeout: float = START_TIMEOUT) -> None:
        """Block until `count` lines containing `text` were printed; fail on exit or timeout."""
        deadline = time.monotonic() + timeout
        while sum(text in line for line in self.seen) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {text!r} in output:\n{''.join(self.seen)}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line == "":
                raise RuntimeError(f"process ended before {text!r}:\n{''.join(self.seen)}")
            self.seen.append(line)

    def text(self) -> str:
        """Everything printed so far."""
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return "".join(self.seen)
            self.seen.append(line)


def stop_process(process: subprocess.Popen) -> None:
    """Terminate `process` (and wait); kill it if it doesn't stop."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    output: OutputWatcher
    access_log: OutputWatcher | None = None

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@contextmanager
def running_gunicorn(
    project: Path,
    access_log_format: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    app: str | None = None,
) -> Iterator[Server]:
    """The example shop under gunicorn (examples/gunicorn.conf.py), serving `project`.

    With `access_log_format` the access log (stdout) is watched, in that gunicorn format. `app`
    serves another app of the tests folder with the same settings (e.g. "big_app:create_app()",
    whose BIG_MENDEL_BASEDIR is `project`).
    """
    port = free_port()
    env = {
        **os.environ,
        "MENDEL_BIND": f"127.0.0.1:{port}",
        "SHOP_MENDEL_BASEDIR": str(project),
        "BIG_MENDEL_BASEDIR": str(project),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    if access_log_format:
        env["GUNICORN_CMD_ARGS"] = f"--access-logformat={shlex.quote(access_log_format)}"
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)]
    if app is not None:
        command += ["--pythonpath", str(Path(__file__).resolve().parent), app]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE if access_log_format else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        output = OutputWatcher(process.stderr)
        access_log = OutputWatcher(process.stdout) if access_log_format else None
        output.wait_for("Listening at:")
        yield Server(f"http://127.0.0.1:{port}", process, output, access_log)
    finally:
        stop_process(process)


STACKS = ("flask", "django", "fastapi")
"""The example shop's three servings: Flask and Django under gunicorn, FastAPI under uvicorn."""
DJANGO_GUNICORN_CONF = EXAMPLES / "django_shop" / "gunicorn.conf.py"


def stack_command(stack: str, port: int) -> list[str]:
    """The documented command line of the shop on `stack` (run from the repository root)."""
    if stack == "flask":
        return [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF.relative_to(REPO)), "-b", f"127.0.0.1:{port}"]
    if stack == "django":
        return [sys.executable, "-m", "gunicorn", "-c", str(DJANGO_GUNICORN_CONF.relative_to(REPO)),
                "-b", f"127.0.0.1:{port}"]
    if stack == "fastapi":
        return [sys.executable, "-m", "uvicorn", "--app-dir", "examples", "fastapi_shop.app:app",
                "--host", "127.0.0.1", "--port", str(port)]
    raise ValueError(stack)


@contextmanager
def running_stack(stack: str, project: Path, extra_env: Mapping[str, str] | None = None,
                  extra_args: tuple[str, ...] = (), access_log_format: str | None = None) -> Iterator[Server]:
    """The example shop on `stack` (see `STACKS`) serving the built `project`; stderr is watched,
    and with `access_log_format` (a gunicorn stack's) the access log on stdout."""
    port = free_port()
    env = {**os.environ, "SHOP_MENDEL_BASEDIR": str(project), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    if access_log_format:
        assert stack != "fastapi", "uvicorn has no access log format"
        env["GUNICORN_CMD_ARGS"] = f"--access-logformat={shlex.quote(access_log_format)}"
    process = subprocess.Popen(
        [*stack_command(stack, port), *extra_args], cwd=REPO, env=env,
        stdout=subprocess.PIPE if access_log_format else subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        output = OutputWatcher(process.stderr)
        access_log = OutputWatcher(process.stdout) if access_log_format else None
        wait_for_port(port, process)
        yield Server(f"http://127.0.0.1:{port}", process, output, access_log)
    finally:
        stop_process(process)


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = START_TIMEOUT) -> None:
    """Block until 127.0.0.1:`port` accepts connections (for servers that print nothing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


@contextmanager
def running_wsgi(app_for_url) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """`app_for_url(base URL)` served by werkzeug on a thread at a free port; yields the URL."""
    from werkzeug.serving import make_server

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = make_server("127.0.0.1", port, app_for_url(url), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class Tampering:
    """WSGI wrapper: while `on`, bodies of URLs containing `marker` get `old` replaced by `new`
    (what a tampering CDN or proxy would do to a bundle); other requests pass through."""

    def __init__(self, app, old: bytes, new: bytes, marker: str = "/mendel/"):  # type: ignore[no-untyped-def]
        self.app, self.old, self.new, self.marker = app, old, new, marker
        self.on = False

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        if not (self.on and self.marker in environ["PATH_INFO"]):
            return self.app(environ, start_response)
        environ["HTTP_ACCEPT_ENCODING"] = "identity"
        body = b"".join(self.app(environ, start_response))
        assert self.old in body and len(self.old) == len(self.new)
        return [body.replace(self.old, self.new)]


def render_shipped_nginx_conf(tmp: Path, port: int, origin_port: int, public: Path, workers: int = 1) -> Path:
    """examples/nginx.conf with its ADAPT values pointed at this run's ports and folders, in the
    foreground (each value must be there as shipped: a changed example fails here, not in a
    user's hands)."""
    text = NGINX_CONF.read_text()
    replacements = {
        "worker_processes auto;": f"worker_processes {workers};\ndaemon off;\n" + ("user root;" if os.geteuid() == 0 else ""),
        "pid /run/nginx-mendel.pid;": f"pid {tmp}/nginx.pid;",
        "error_log /var/log/nginx/mendel-error.log warn;": f"error_log {tmp}/error.log warn;",
        "access_log /var/log/nginx/mendel-access.log;": (
            f"access_log {tmp}/access.log;\n    client_body_temp_path {tmp}/client_body;\n"
            f"    proxy_temp_path {tmp}/proxy_temp;\n    fastcgi_temp_path {tmp}/fastcgi_temp;\n"
            f"    uwsgi_temp_path {tmp}/uwsgi_temp;\n    scgi_temp_path {tmp}/scgi_temp;"
        ),
        "/var/cache/nginx/mendel ": f"{tmp}/cache ",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{origin_port};",
        "listen 127.0.0.1:8080;": f"listen 127.0.0.1:{port};",
        "root /var/cache/mendel-store/public;": f"root {public};",
    }
    for shipped, ours in replacements.items():
        assert text.count(shipped) == 1, f"examples/nginx.conf no longer has {shipped!r}"
        text = text.replace(shipped, ours)
    conf = tmp / "nginx.conf"
    conf.write_text(text)
    return conf
