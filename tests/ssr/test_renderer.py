"""`Renderer` in both engines on a project with no npm: per-tree HTML, the sandbox's faults, no
state between renders, what the sandbox exposes, stacks mapped to the files, the context cache."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from build_support import build, make_project
from mendel_py.core.trees import MendelTrees
from mendel_py.errors import ConfigError
from mendel_py.ssr import Renderer, RenderError, SsrNotConfigured

ENGINES = ["quickjs", "v8"]

RC = """\
base-config:
  dir: src/base
variation-config:
  variation-dirs: [src/variations]
  variations:
    blue:
    wide:
bundles:
  main:
    entries: [render.js]
    manifest: manifests/main.manifest.json
    ssr:
      module: render.js
  plain:
    entries: [render.js]
    manifest: manifests/plain.manifest.json
"""

RENDER = """\
var title = require('./components/title.js');
var shared = require('counter-package');
var count = 0;
function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
exports.render = function (props) {
  count++;
  var mode = props.mode;
  if (mode === 'throw') { title.explode(); }
  if (mode === 'loop') { for (;;) {} }
  if (mode === 'alloc') { var a = []; for (;;) a.push(new Array(1000).fill(mode)); }
  if (mode === 'deep') { var f = function (n) { return f(n + 1) + 1; }; f(0); }
  if (mode === 'number') { return 42; }
  if (mode === 'globals') {
    globalThis.leak = (globalThis.leak || 0) + 1;
    Object.prototype.polluted = 'yes';
    Array.prototype.push = function () { return -1; };
    Math.random = function () { return 4; };
    delete globalThis.JSON.stringify;
  }
  if (mode === 'intrinsics' || mode === 'intrinsics?') {  // what no global names: set, or read back
    var found = [];
    [typeof Intl === 'object' && Intl, typeof Atomics === 'object' && Atomics,
     typeof Intl === 'object' && Intl.DateTimeFormat.prototype,
     Object.getPrototypeOf(Uint8Array.prototype), Object.getPrototypeOf(Uint8Array),
     Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())),
     Object.getPrototypeOf(new Map().entries()), Object.getPrototypeOf(function* () {}).prototype,
     Object.getPrototypeOf(async function () {})].forEach(function (o, k) {
      if (!o) return;
      if (mode === 'intrinsics') o.leak = k; else if (Object.prototype.hasOwnProperty.call(o, 'leak')) found.push(k);
    });
    return 'leaks:' + found.join(',');
  }
  if (mode === 'redefine' || mode === 'redefine?') {  // changes `Object.keys` does not show: made, or read back
    var has = Object.prototype.hasOwnProperty, describe = Object.getOwnPropertyDescriptor, left = [];
    var Stamp = function (o) { return o; }, max = Math.max, change = {
      map: function () { Object.defineProperty(Array.prototype, 'map', {enumerable: true}); },
      max: function () { Object.defineProperty(Math, 'max', {get: function () { return max; }, configurable: true}); },
      min: function () { Math.__defineGetter__('min', function () { return max; }); },
      length: function () { delete Symbol.length; },  // a lookup then finds Function.prototype's 0, the same value
      proxy: function () { Object.defineProperty(new Proxy(Math, {}), 'viaProxy', {value: 1, configurable: true}); },
      reflect: function () { Reflect.defineProperty(JSON, 'hidden', {value: 1, configurable: true}); },
      properties: function () { Object.defineProperties(Object.prototype, {hidden: {value: 2, configurable: true}}); },
      stack: function () { if (typeof Error.captureStackTrace === 'function') Error.captureStackTrace(Math); else Math.stack = 1; },
      // a class whose constructor returns a built-in defines its fields there, with no call noted
      field: function () { new (class extends Stamp { constructor() { super(Math); } max = Math.max; })(); },
      readonly: function () { new (class extends Stamp { constructor() { super(Symbol); } name = 'Symbol'; })(); },
      // a trap put on Object.prototype, were the sandbox's proxies to look for one there, would be
      // handed the engine's own defineProperty
      trap: function () {
        var found;
        Object.prototype.get = function (target, key) { found = target; return target[key]; };
        void Object.defineProperty.name;
        delete Object.prototype.get;
        (found || Object.defineProperty)(Math, 'viaTrap', {value: 1, configurable: true});
      }
    };
    if (mode === 'redefine') change[props.change]();
    if (Array.prototype.propertyIsEnumerable('map')) left.push('map');
    if (!('value' in describe(Math, 'max'))) left.push('max');
    if (!('value' in describe(Math, 'min'))) left.push('min');
    if (!has.call(Symbol, 'length')) left.push('length');
    if (has.call(Math, 'viaProxy')) left.push('proxy');
    if (has.call(JSON, 'hidden')) left.push('reflect');
    if (has.call(Object.prototype, 'hidden')) left.push('properties');
    if (has.call(Math, 'stack')) left.push('stack');
    if (Math.propertyIsEnumerable('max')) left.push('field');
    if (describe(Symbol, 'name').writable) left.push('readonly');
    if (has.call(Math, 'viaTrap')) left.push('trap');
    return 'left:' + left.join(',');
  }
  if (mode === 'pollute') {  // restoring must read no descriptor field through Object.prototype
    Object.prototype.get = function () { return 'polluted'; };
    Object.prototype.value = 'polluted';
    globalThis.Array = 1;
    Math.max = 2;
    delete JSON.parse; JSON.parse = 3;  // (JSON's keys in another order: its baseline is taken again)
    return 'polluted';
  }
  if (mode === 'pollute?') {
    var seen = [typeof Array, typeof Math.max, typeof JSON.parse];
    [[globalThis, 'Array'], [Math, 'max'], [JSON, 'parse']].forEach(function (pair) {
      var d = Object.getOwnPropertyDescriptor(pair[0], pair[1]);
      seen.push(Object.prototype.hasOwnProperty.call(d, 'get') ? 'getter' : 'value');
    });
    seen.push(typeof Object.prototype.get, typeof Object.prototype.value);
    return seen.join(',');
  }
  if (mode === 'natives') {  // the definitions the sandbox watches still look and act as the engine's
    var native = /\\[native code\\]/, text = Function.prototype.toString, seen = [];
    [[Object, 'defineProperty', 3], [Object, 'defineProperties', 2], [Reflect, 'defineProperty', 3],
     [Object.prototype, '__defineGetter__', 2], [globalThis, 'Proxy', 2]].forEach(function (w) {
      var f = w[0][w[1]];
      seen.push(w[1] + ':' + (f.name === w[1]) + (f.length === w[2]) + native.test(text.call(f))
        + Object.getOwnPropertyDescriptor(w[0], w[1]).enumerable);
    });
    var o = Object.defineProperty({}, 'x', {value: 1, enumerable: true});
    var p = new Proxy({}, {get: function () { return 7; }}), r = Proxy.revocable({}, {});
    r.revoke();
    var threw = false;
    try { Proxy({}, {}); } catch (e) { threw = e instanceof TypeError; }
    seen.push(o.x + ':' + p.anything + ':' + typeof Proxy.prototype + ':' + threw);
    return seen.join(' ');
  }
  if (mode === 'sticky') { Object.defineProperty(globalThis, 'sticky', {value: 1, configurable: false}); }
  if (mode === 'later') {
    Promise.resolve().then(function () { globalThis.fromJob = 1; });
    setTimeout(function () { globalThis.fromTimer = 1; }, 0);
  }
  if (mode === 'log') { console.warn('careful', 1); }
  if (mode === 'probe') {
    var seen = {};
    ['process', 'require', 'module', 'std', 'os', 'fetch', 'XMLHttpRequest', 'WebAssembly', 'print',
     'window', 'document', 'Buffer', '__timer_manager', 'TextEncoder', 'TextDecoder', 'queueMicrotask',
     'MessageChannel', 'setTimeout'].forEach(function (name) { seen[name] = typeof globalThis[name]; });
    var bytes = new TextEncoder().encode(props.text);
    seen.roundTrip = new TextDecoder().decode(bytes);
    seen.bytes = bytes.length;
    return JSON.stringify(seen);
  }
  return '<h1>' + title.text() + '</h1><p data-count="' + count + '" data-shared="' + shared.next() + '"'
    + ' data-leak="' + (typeof leak === 'undefined' ? 0 : leak) + '" data-polluted="' + ({}.polluted || 0) + '"'
    + ' data-push="' + [].push(1) + '" data-random="' + (Math.random() < 1) + '" data-job="'
    + (typeof fromJob) + (typeof fromTimer) + '">' + esc(props.name) + '</p>';
};
"""
TITLE = """\
exports.text = function () { return 'Hello'; };
exports.explode = function () {
  throw new Error('base boom');
};
"""
BLUE_TITLE = """\
exports.text = function () { return 'Hello in blue'; };
exports.explode = function () {
  var x = 1;
  throw new TypeError('blue boom ' + x);
};
"""
COUNTER = "var n = 0; exports.next = function () { n += 1; return n; };\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ssr")
    make_project(root, {
        "src/base/render.js": RENDER,
        "src/base/components/title.js": TITLE,
        "src/variations/blue/components/title.js": BLUE_TITLE,
        "src/variations/wide/components/other.js": "exports.x = 1;\n",
        "node_modules/counter-package/package.json": json.dumps({"name": "counter-package", "main": "index.js"}),
        "node_modules/counter-package/index.js": COUNTER,
    }, RC)
    build(root)
    return root


@pytest.fixture(scope="module")
def trees(project: Path) -> MendelTrees:
    return MendelTrees(str(project))


@pytest.fixture(params=ENGINES)
def renderer(request: pytest.FixtureRequest, trees: MendelTrees) -> Renderer:
    made = Renderer(trees, engine=request.param, timeout=1.0, memory_limit=32 << 20)
    yield made
    made.contexts.clear()


def attrs(html: str) -> dict[str, str]:
    import re

    return dict(re.findall(r'data-(\w+)="([^"]*)"', html))


def test_each_variation_set_renders_its_own_tree(renderer: Renderer) -> None:
    assert renderer.render("main", [], {"name": "x"}).startswith("<h1>Hello</h1>")
    assert renderer.render("main", ["blue"], {"name": "x"}).startswith("<h1>Hello in blue</h1>")
    assert renderer.render("main", ["nonsense", "blue"], {"name": "x"}).startswith("<h1>Hello in blue</h1>")


def test_props_needing_escaping_arrive_whole(renderer: Renderer) -> None:
    name = "<script>alert('x')</script> & \"q\" caf\u00e9 \u2028 \U0001f600"
    html = renderer.render("main", [], {"name": name})
    assert html.endswith(">&lt;script&gt;alert('x')&lt;/script&gt; &amp; &quot;q&quot; caf\u00e9 \u2028 \U0001f600</p>")


@pytest.mark.parametrize("mode, reason", [("loop", "timeout"), ("alloc", "memory"), ("deep", "error"),
                                          ("throw", "error"), ("number", "error")])
def test_a_fault_is_a_render_error_and_the_next_render_works(renderer: Renderer, mode: str, reason: str) -> None:
    renderer.render("main", [], {"name": "before"})
    with pytest.raises(RenderError) as caught:
        renderer.render("main", [], {"name": "x", "mode": mode})
    assert caught.value.reason == reason
    assert caught.value.bundle == "main" and caught.value.hash
    assert attrs(renderer.render("main", [], {"name": "after"}))["count"] == "1"
    assert renderer.status()["faults"][reason] >= 1


def test_a_deadline_is_wall_clock_and_configurable(trees: MendelTrees) -> None:
    import time

    for engine in ENGINES:
        fast = Renderer(trees, engine=engine, timeout=0.2)
        started = time.monotonic()
        with pytest.raises(RenderError, match="deadline"):
            fast.render("main", [], {"name": "x", "mode": "loop"})
        # QuickJS stops a loop that never allocates by its CPU-time limit (the same length):
        # later than the deadline only when the machine starves the process
        assert time.monotonic() - started < 3
        fast.contexts.clear()


def test_a_js_error_maps_to_the_variation_file_and_line(renderer: Renderer) -> None:
    with pytest.raises(RenderError) as caught:
        renderer.render("main", ["blue"], {"name": "x", "mode": "throw"})
    error = caught.value
    assert error.reason == "error"
    assert (error.file, error.line) == ("src/variations/blue/components/title.js", 4)
    assert "TypeError: blue boom 1" in error.stack
    assert "src/variations/blue/components/title.js:4:" in error.stack
    assert "src/base/render.js:10:" in error.stack  # the caller, in the base file
    assert "<input>" not in error.stack and "<anonymous>:" not in error.stack


def test_module_state_is_fresh_and_package_state_is_shared(renderer: Renderer) -> None:
    first = attrs(renderer.render("main", [], {"name": "a"}))
    second = attrs(renderer.render("main", [], {"name": "b"}))
    assert first["count"] == second["count"] == "1"  # the project's module runs afresh
    # the package was evaluated once for the context: its counter goes on
    assert int(second["shared"]) == int(first["shared"]) + 1


def test_writes_to_globals_and_builtins_are_invisible_to_the_next_render(renderer: Renderer) -> None:
    during = attrs(renderer.render("main", [], {"name": "a", "mode": "globals"}))
    assert during["leak"] == "1" and during["polluted"] == "yes" and during["push"] == "-1"
    after = attrs(renderer.render("main", [], {"name": "b", "mode": "globals"}))
    assert after["leak"] == "1" and after["random"] == "false"  # each render starts from the baseline
    clean = attrs(renderer.render("main", [], {"name": "c"}))
    assert clean == {**clean, "leak": "0", "polluted": "0", "push": "1", "random": "true"}


def test_writes_to_intrinsics_no_global_names_are_invisible_to_the_next_render(renderer: Renderer) -> None:
    """Intl and Atomics (where the engine has them), the typed arrays' shared constructor and
    prototype, the iterator, generator and async-function prototypes."""
    assert renderer.render("main", [], {"name": "a", "mode": "intrinsics?"}) == "leaks:"
    renderer.render("main", [], {"name": "a", "mode": "intrinsics"})
    assert renderer.render("main", [], {"name": "b", "mode": "intrinsics?"}) == "leaks:"


CHANGES_KEYS_DO_NOT_SHOW = ["map", "max", "min", "length", "proxy", "reflect", "properties", "stack", "field", "readonly", "trap"]


@pytest.mark.parametrize("change", CHANGES_KEYS_DO_NOT_SHOW)
def test_changes_object_keys_does_not_show_are_undone_too(renderer: Renderer, change: str) -> None:
    """An attribute changed, a value turned into a getter (by `defineProperty` or
    `__defineGetter__`), a key deleted where the prototype has the same value, a key defined
    non-enumerable (directly, through a proxy, `Reflect`, `defineProperties`, `captureStackTrace`),
    class fields defined on a built-in (a value made enumerable, a read-only one writable)."""
    assert renderer.render("main", [], {"name": "a", "mode": "redefine?"}) == "left:"
    assert renderer.render("main", [], {"name": "a", "mode": "redefine", "change": change}) == f"left:{change}"
    assert renderer.render("main", [], {"name": "b", "mode": "redefine?"}) == "left:"
    assert attrs(renderer.render("main", [], {"name": "c"}))["count"] == "1"
    assert renderer.status()["dirty_contexts"] == 0  # undone, in the same context


def test_restoring_reads_no_descriptor_field_a_render_put_on_object_prototype(renderer: Renderer) -> None:
    """A render that puts `get` and `value` on Object.prototype and changes built-ins: each is put
    back as the data property it was, not as a getter (a descriptor read through the prototype)."""
    before = renderer.render("main", [], {"name": "a", "mode": "pollute?"})
    assert before == "function,function,function,value,value,value,undefined,undefined"
    assert renderer.render("main", [], {"name": "a", "mode": "pollute"}) == "polluted"
    assert renderer.render("main", [], {"name": "b", "mode": "pollute?"}) == before
    assert renderer.render("main", [], {"name": "b", "mode": "pollute?"}) == before  # (JSON's baseline taken again)
    assert renderer.status()["dirty_contexts"] == 0


def test_the_watched_definitions_look_and_act_as_the_engines(renderer: Renderer) -> None:
    seen = renderer.render("main", [], {"name": "a", "mode": "natives"}).split(" ")
    assert seen[:-1] == [f"{name}:truetruetruefalse" for name in
                         ("defineProperty", "defineProperties", "defineProperty", "__defineGetter__", "Proxy")]
    assert seen[-1] == "1:7:undefined:true"


def test_promise_jobs_and_timers_of_a_render_do_not_reach_the_next(renderer: Renderer) -> None:
    renderer.render("main", [], {"name": "a", "mode": "later"})
    assert attrs(renderer.render("main", [], {"name": "b"}))["job"] == "undefinedundefined"


def test_a_change_that_cannot_be_undone_retires_the_context(renderer: Renderer) -> None:
    renderer.render("main", [], {"name": "a", "mode": "sticky"})
    html = renderer.render("main", [], {"name": "b"})
    assert attrs(html)["count"] == "1"
    assert renderer.status()["dirty_contexts"] == 1


def test_the_sandbox_has_the_web_globals_and_nothing_of_the_host(renderer: Renderer) -> None:
    seen = json.loads(renderer.render("main", [], {"name": "a", "mode": "probe", "text": "caf\u00e9 \U0001f600"}))
    for name in ("process", "require", "module", "std", "os", "fetch", "XMLHttpRequest", "WebAssembly",
                 "print", "window", "document", "Buffer"):
        assert seen[name] == "undefined", name
    assert seen["__timer_manager"] == "undefined"
    for name in ("TextEncoder", "TextDecoder", "queueMicrotask", "MessageChannel", "setTimeout"):
        assert seen[name] == "function", name
    assert seen["roundTrip"] == "caf\u00e9 \U0001f600" and seen["bytes"] == len("caf\u00e9 \U0001f600".encode())


def test_console_output_goes_to_the_log(renderer: Renderer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="mendel_py.ssr"):
        renderer.render("main", [], {"name": "a", "mode": "log"})
    assert "careful 1" in caplog.text


def test_a_bundle_without_ssr_is_refused(trees: MendelTrees) -> None:
    with pytest.raises(SsrNotConfigured, match="plain"):
        Renderer(trees).render("plain", [], {})


@pytest.mark.parametrize("engine", ENGINES)
def test_contexts_are_per_thread_and_render_at_once(trees: MendelTrees, engine: str) -> None:
    """Each thread makes its own contexts and renders from itself, three threads at once (V8:
    straight to the thread's own isolate)."""
    renderer = Renderer(trees, engine=engine)
    results: list[str] = []
    start = threading.Barrier(3)

    def work() -> None:
        start.wait()
        for i in range(6):
            results.append(attrs(renderer.render("main", ["blue"] if i % 2 else [], {"name": str(i)}))["count"])
        renderer.contexts.clear()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == ["1"] * 18
    assert renderer.status()["contexts_made"] >= 6  # two trees in each of three threads


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_a_v8_render_holds_its_thread_and_isolate_to_one_cpu_and_gives_the_cpus_back(trees: MendelTrees) -> None:
    renderer = Renderer(trees, engine="v8")
    mine = os.sched_getaffinity(0)
    renderer.render("main", [], {"name": "x"})
    engine = next(iter(renderer.contexts._slots().values())).engine
    isolate = engine._pair.isolate_thread  # type: ignore[attr-defined]
    assert isolate is not None and isolate not in {t.native_id for t in threading.enumerate()}
    held = os.sched_getaffinity(isolate)
    assert len(held) == 1 and held <= mine  # the CPU the render ran on
    assert os.sched_getaffinity(0) == mine  # this thread's CPUs are back
    renderer.contexts.clear()


def test_a_flood_of_trees_stays_within_the_budget(trees: MendelTrees) -> None:
    renderer = Renderer(trees, engine="quickjs", cache_bytes=1)  # room for one context at most
    for names in ([], ["blue"], ["wide"], ["blue", "wide"]) * 2:
        renderer.render("main", names, {"name": "x"})
        assert renderer.contexts.thread_slots() == 1
    assert renderer.status()["contexts_evicted"] >= 7
    renderer.contexts.clear()


def test_an_engine_from_the_environment(trees: MendelTrees, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENDEL_SSR_ENGINE", "v8")
    assert Renderer(trees).engine == "v8"
    monkeypatch.delenv("MENDEL_SSR_ENGINE")
    assert Renderer(trees).engine == "quickjs"
    with pytest.raises(ConfigError, match="unknown SSR engine"):
        Renderer(trees, engine="spidermonkey")


FORKED = """
import os, sys
from mendel_py.core.trees import MendelTrees
from mendel_py.errors import ConfigError
from mendel_py.ssr import Renderer
renderer = Renderer(MendelTrees(sys.argv[1]), engine=sys.argv[2])  # made before the fork, no engine yet
if len(sys.argv) > 3:  # QuickJS only: a context made before the fork is set aside in the child
    renderer.render("main", ["blue"], {"name": "parent first"})
children = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        html = renderer.render("main", ["blue"], {"name": "child"})
        os._exit(0 if "Hello in blue" in html else 3)
    children.append(pid)
codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
print(renderer.render("main", [], {"name": "parent"})[:14], codes)
"""


@pytest.mark.parametrize("engine, parent_first", [("quickjs", False), ("v8", False), ("quickjs", True)])
def test_a_renderer_made_before_fork_renders_in_each_child(project: Path, engine: str, parent_first: bool) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FORKED), str(project), engine, *(["first"] if parent_first else [])],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "<h1>Hello</h1> [0, 0]"


FORKED_AFTER_V8 = """
import os, sys
from mendel_py.core.trees import MendelTrees
from mendel_py.ssr import Renderer, RenderError
renderer = Renderer(MendelTrees(sys.argv[1]), engine="v8")
renderer.render("main", [], {"name": "parent first"})  # V8 initialised here, with its worker threads
pid = os.fork()
if pid == 0:
    try:
        renderer.render("main", [], {"name": "child"})
        os._exit(3)
    except RenderError as error:
        os._exit(0 if error.reason == "error" and "before fork()" in error.message else 4)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), renderer.render("main", [], {"name": "parent"})[:14])
"""


def test_a_child_of_a_process_that_initialised_v8_gets_a_render_error_not_an_abort(project: Path) -> None:
    # V8's worker threads are not in a forked child: a context made there would abort the process
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FORKED_AFTER_V8), str(project)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0 <h1>Hello</h1>"


THREADED = """
import sys, threading
from mendel_py.core.trees import MendelTrees
from mendel_py.errors import ConfigError
from mendel_py.ssr import Renderer
renderer = Renderer(MendelTrees(sys.argv[1]), engine=sys.argv[2])  # on the main thread: V8 initialised here
failures = []
def work(n):
    try:
        for i in range(10):
            assert "Hello" in renderer.render("main", ["blue"] if (n + i) % 2 else [], {"name": str(i)})
    except BaseException as error:
        failures.append(repr(error))
threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
for thread in threads: thread.start()
for thread in threads: thread.join()
print("ok" if not failures else failures)
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_four_threads_render_at_once_each_with_its_contexts(project: Path, engine: str) -> None:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(THREADED), str(project), engine],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_props_go_as_json_stringify_writes_them(renderer: Renderer) -> None:
    assert renderer.render("main", [], {"name": float("nan")}).endswith(">null</p>")
    assert renderer.render("main", [], {"name": {1: "one"}}).endswith(">[object Object]</p>")
