"""The engine seam: one small interface (load a tree's script, render, discard) and its two
implementations, QuickJS (`quickjs-ng`, the default) and V8 (`mini-racer`).

An engine context belongs to the thread that made it, in the process that made it: neither
library's context may be used from two threads, a V8 isolate made before `fork()` hangs in the
child, and QuickJS's `quickjs.Function` (never used here) hangs in a forked child. So contexts are
made lazily, on first render in a thread (`contexts.ContextCache`), never in a pre-forking master.

What an engine promises, whichever it is (the sandbox):
- the code sees only the language's built-ins and the web globals the script installs
  (`script.SHIMS`): no file system, network, environment, `process`, Python object or host module
  (QuickJS's `std`/`os` are not loaded; mini-racer exposes nothing of the host);
- a render that passes its wall-clock deadline ends with `EngineFault("timeout")`, one that passes
  the memory cap with `EngineFault("memory")`, and a thrown error with `EngineFault("error")`;
  after any fault the context is discarded by its owner, never reused.
"""
from __future__ import annotations

import asyncio
import ctypes
import heapq
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from .._runtime.process import current_pid
from ..errors import ConfigError

log = logging.getLogger("mendel_py.ssr")

ENGINES = ("quickjs", "v8")
"""The engine names `Renderer(engine=)`, `ssr.engine` and `MENDEL_SSR_ENGINE` take."""
DEFAULT_ENGINE = "quickjs"

CPUS = os.cpu_count() or 1
QUICKJS_STACK_BYTES = 2 * 1024 * 1024
"""QuickJS's own stack limit (its default, 256 KiB, overflows a React tree 200 deep). Well inside
the 8 MiB C stack a glibc thread (gunicorn's gthread workers included) gets."""
PENDING_JOBS_MAX = 10_000
"""Promise jobs run after a QuickJS render, at most (V8 runs them itself when a call returns)."""


class EngineFault(Exception):
    """A render that did not return HTML: `reason` "timeout", "memory" or "error"; `stack` the
    engine's text of the JS error (message and stack lines, as the engine wrote them)."""

    def __init__(self, reason: str, stack: str):
        super().__init__(stack)
        self.reason = reason
        self.stack = stack


class Engine(Protocol):
    """One engine context holding one tree's server script."""

    name: str

    def load(self, script: str, deadline: float) -> None:
        """Evaluate the tree's server script (`script.server_script`) once, by `deadline` (the
        packages it evaluates run now). Raises EngineFault."""
        ...

    def render(self, props_json: str, deadline: float) -> str:
        """Run the script's `__mendelRender` on props given as JSON and return its answer (see
        `script.RUNTIME`). `deadline` is a `time.monotonic()` value. Raises EngineFault."""
        ...

    def memory_bytes(self) -> int:
        """The context's heap in use, as its engine counts it."""
        ...

    def discard(self) -> None:
        """Free the context (only from the thread that made it)."""
        ...


def make_engine(name: str, memory_limit: int) -> Engine:
    """A new context of engine `name`, capped at `memory_limit` bytes. ImportError names the extra
    to install when the engine's package is missing."""
    if name == "quickjs":
        return QuickJSEngine(memory_limit)
    if name == "v8":
        return V8Engine(memory_limit)
    raise ValueError(f"unknown SSR engine {name!r} (expected one of: {', '.join(ENGINES)})")


def _missing(package: str, extra: str) -> ImportError:
    return ImportError(f"server-side rendering with this engine needs {package}: pip install 'mendel_py[{extra}]'")


# --- QuickJS ------------------------------------------------------------------------------


class QuickJSEngine:
    """A `quickjs.Context` (its own runtime) with a memory cap, a stack limit and a deadline.

    QuickJS's time limit counts the *process's* CPU time (C `clock()`), so with two busy threads
    it fires early, and while it is set QuickJS may not call into Python. So the deadline is kept
    by the process's watchdog thread (`Watchdog`): at the deadline it lowers the context's memory
    cap to nothing, and the render ends at its next allocation. The CPU limit stays as the
    backstop for a loop that never allocates: the deadline's length times the CPUs, so however
    many threads render at once it never fires before the deadline (alone on a CPU, such a loop
    runs up to that many times the deadline).
    """

    name = "quickjs"

    def __init__(self, memory_limit: int):
        try:
            import quickjs
        except ImportError:
            raise _missing("quickjs-ng", "ssr") from None
        self._quickjs = quickjs
        self._memory_limit = memory_limit
        self._context = quickjs.Context()
        self._context.set_memory_limit(memory_limit)
        self._context.set_max_stack_size(QUICKJS_STACK_BYTES)
        self._render: Any = None
        self._lock = threading.Lock()  # between this render and the watchdog
        self._running = False
        self._timed_out = False

    def load(self, script: str, deadline: float) -> None:
        self._guarded(lambda: self._context.eval(script), deadline)
        self._render = self._context.get("__mendelRender")

    def render(self, props_json: str, deadline: float) -> str:
        context = self._context

        def run() -> Any:
            answer = self._render(props_json)
            for _ in range(PENDING_JOBS_MAX):  # this render's promise jobs, before the next render
                if not context.execute_pending_job():
                    break
            return answer

        return _answer(self._guarded(run, deadline))

    def _guarded(self, run: Callable[[], Any], deadline: float) -> Any:
        """`run()` under the watchdog's deadline and the CPU-time backstop."""
        context = self._context
        with self._lock:
            self._running, self._timed_out = True, False
        # process CPU time grows up to `cpu_count` times as fast as the wall clock: a limit that
        # long never fires before the deadline, however many threads render
        context.set_time_limit(max(deadline - time.monotonic(), 0.001) * CPUS)
        ticket = watchdog().watch(deadline, self._expire)
        try:
            result = run()
        except self._quickjs.JSException as error:  # StackOverflow is one
            raise EngineFault("timeout" if self._timed_out else _quickjs_reason(str(error)), str(error)) from None
        finally:
            watchdog().cancel(ticket)
            with self._lock:
                self._running = False
            context.set_time_limit(-1)
        if self._timed_out:
            raise EngineFault("timeout", "the render passed its deadline")
        return result

    def _expire(self) -> None:
        """The watchdog's call at the deadline: stop the render at its next allocation."""
        with self._lock:
            if self._running:
                self._timed_out = True
                self._context.set_memory_limit(1)

    def memory_bytes(self) -> int:
        return int(self._context.memory()["memory_used_size"])

    def discard(self) -> None:
        self._render = None
        del self._context


def _quickjs_reason(text: str) -> str:
    # QuickJS can't even make an error object once the cap is hit: the exception is `null`
    if text.startswith("null") or "out of memory" in text:
        return "memory"
    if text.startswith("InternalError: interrupted"):
        return "timeout"
    return "error"


# --- V8 -------------------------------------------------------------------------------------

V8_HEAP_CEILING_FACTOR = 4
"""V8's own per-isolate heap ceiling (`--max-heap-size`) is set to this many times the memory cap
(at least 256 MiB): mini-racer checks its cap after each garbage collection, and a smaller heap
collects often enough that a runaway allocation stops near the cap (measured: 70 MiB for a 64 MiB
cap; 485 MiB with V8's default ceiling). The flag is process-wide, set once before the first
isolate."""


def v8_flags(memory_limit: int) -> tuple[str, ...]:
    """The flags V8 is initialised with: the heap ceiling, and `--no-concurrent-osr`.

    Not mini-racer's default, `--single-threaded`: under it TurboFan compiles on the rendering
    thread, and the code it makes misses fast paths the same functions get from a background
    compile (Preact's escaping calls the generic `RegExp.prototype.test` and `charCodeAt`
    builtins instead of inlining them). Measured with bench_ssr pinned to one CPU, runs of each
    in turn: 1.80-1.83 ms against 1.58-1.59 ms a Preact render, 1.86-2.05 ms against
    1.66-1.69 ms a React one. Without it V8 runs worker threads, which a forked child does not
    have: a process that initialised V8 can't hand it to its children (`_v8`).

    `--no-concurrent-osr` keeps the memory cap: with concurrent on-stack replacement mini-racer's
    cap did not stop a runaway allocation loop (the heap grew to 230 MiB past a 32 MiB cap) and
    it ended in V8's fatal out-of-memory abort of the whole process; with the flag each of ten
    allocation patterns tried ended in the memory fault, the process's memory growing about as
    much as under `--single-threaded` (the heap, where it could be read after the fault: 64-70
    MiB for a 64 MiB cap, under either)."""
    return ("--no-concurrent-osr", f"--max-heap-size={max(256, V8_HEAP_CEILING_FACTOR * (memory_limit >> 20))}")


V8_CANCEL_GRACE = 5.0
"""Seconds a render may take past its deadline to stop once cancelled, before its context is
given up for lost (never seen: cancelling ends a render within milliseconds)."""


class _V8Thread:
    """The process's V8 thread: an asyncio event loop on which every mini-racer context of the
    process is made, loaded and closed (mini-racer's own calls for those wait on the event loop
    a context was made with).

    One thread, because contexts made from several threads crashed the process (SIGSEGV in
    mini-racer's `mr_init_context`, seen under gunicorn's gthread workers and FastAPI's thread
    pool, even with every call serialized by a lock); made on one they don't. Renders don't come
    here: each goes from the thread that owns the context straight to its isolate and back
    (`V8Engine.render`)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="mendel-v8", daemon=True)
        self.thread.start()

    def call(self, run: Callable[[], Any]) -> Any:
        """`run()` on the V8 thread; its answer or its exception."""
        if threading.current_thread() is self.thread:
            return run()

        async def here() -> Any:
            return run()

        return self.run(here())

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        """The answer of `coroutine`, run on the V8 thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


_v8_thread: _V8Thread | None = None
_v8_initialised_in: int | None = None
"""The pid whose process initialised V8 (0: the application did, with flags of its own)."""
_v8_lock = threading.Lock()


def _v8(memory_limit: int) -> tuple[Any, _V8Thread]:
    """mini-racer and this process's V8 thread, V8 initialised for this process (with
    `v8_flags`, on that thread, unless the application initialised it first). EngineFault in a
    forked child of a process that initialised it with `v8_flags`: V8's worker threads are not in
    the child, and contexts made there can abort the process (seen: both children of a parent
    that had rendered 200 times)."""
    global _v8_thread, _v8_initialised_in
    try:
        import py_mini_racer
    except ImportError:
        raise _missing("mini-racer", "ssr-v8") from None
    if _v8_initialised_in not in (None, 0, os.getpid()):
        raise EngineFault(
            "error", "V8 was initialised in a parent of this process, before fork(): render with V8 only in"
            " processes that start after the fork (warm contexts in each worker, never in the master)"
        )
    with _v8_lock:
        if _v8_thread is None or _v8_thread.pid != os.getpid():
            _v8_thread = _V8Thread()  # (made again in a forked child)
        v8_thread = _v8_thread
        if _v8_initialised_in is None:

            def initialise() -> int:
                try:
                    py_mini_racer.init_mini_racer(flags=v8_flags(memory_limit))
                except py_mini_racer.LibAlreadyInitializedError:
                    return 0  # the application initialised V8 itself: its flags stand
                return os.getpid()

            _v8_initialised_in = v8_thread.call(initialise)
    return py_mini_racer, v8_thread


class _Direct:
    """The few mini-racer internals a render uses to go from its thread straight to the isolate
    and back: two thread switches a render, where mini-racer's public calls (through the event
    loop the context was made with) take six and most of a millisecond of Python (measured on
    a 1,000-item page: 3.9-4.5 ms against 6.3-7.3 ms a render, under the same load). Checked
    when a context is made, so a mini-racer that changed them fails loudly, never quietly; the
    `[ssr-v8]` extra pins the minor version they were read from."""

    def __init__(self, racer: Any):
        try:
            context = racer._ctx
            self.dll = context._dll
            self.handle = context._ctx
            self.results = context._non_cancelable_mr_task_results_queue
            self.to_handle = context._python_to_value_handle
            self.to_python = context._value_handle_to_python
            self.call, self.cancel = self.dll.mr_call_function, self.dll.mr_cancel_task
        except AttributeError as error:
            raise EngineFault(
                "error", f"this mini-racer lacks what renders use ({error}): install the version [ssr-v8] names"
            ) from None


def _threads() -> set[int]:
    """The OS thread ids of this process."""
    try:
        return {int(name) for name in os.listdir("/proc/self/task")}
    except OSError:  # not Linux
        return set()


_sched_getcpu: Callable[[], int] | None
try:
    _sched_getcpu = ctypes.CDLL(None, use_errno=True).sched_getcpu
except (OSError, AttributeError):  # not glibc-like: no pinning
    _sched_getcpu = None


class _Pair:
    """While a thread renders, it and the context's isolate thread run on the same CPU.

    A render is a strict hand-over between the two (the renderer waits while the isolate runs,
    and back), so they never need two CPUs at once; on two they wake each other across CPUs,
    which in a virtual machine means waking an idle virtual CPU through the hypervisor at every
    crossing (measured on a 2-CPU VM, 1,000-item page: the process pinned to one CPU rendered in
    2.8-3.7 ms against 3.3-5.7 ms free; this pinning, interleaved with none in one process, gave
    the faster median in 7 of 8 comparisons, by up to 1.7x). So for the render's length the
    rendering thread is held to the CPU it is on, and the isolate thread follows it there (it
    stays there between renders, idle); afterwards the rendering thread gets its own CPUs back.
    Not available (then nothing is done) when the isolate thread isn't known or the platform has no `sched_getcpu`."""

    def __init__(self, isolate_thread: int | None):
        self.isolate_thread = isolate_thread if _sched_getcpu is not None else None
        self.cpu = -1  # where the isolate thread is held
        self.mask: set[int] | None = None

    def __enter__(self) -> None:
        if self.isolate_thread is None or _sched_getcpu is None:
            return
        cpu = _sched_getcpu()
        try:
            mask = os.sched_getaffinity(0)
            if cpu < 0 or len(mask) < 2:
                return
            if cpu != self.cpu:
                os.sched_setaffinity(self.isolate_thread, {cpu})
                self.cpu = cpu
            os.sched_setaffinity(0, {cpu})  # this thread only (0: the calling thread)
            self.mask = mask
        except OSError:  # a thread gone, a mask refused: render unpinned, and stop trying
            self.isolate_thread = None

    def __exit__(self, *exc: object) -> None:
        if self.mask is not None:
            mask, self.mask = self.mask, None
            try:
                os.sched_setaffinity(0, mask)
            except OSError:
                pass


class V8Engine:
    """A mini-racer context (its own isolate, with OS threads of its own) with a hard memory cap
    and a wall-clock deadline. It is made, loaded and closed on the process's V8 thread, and
    renders from the thread that owns it (`contexts.ContextCache` never shares one).

    It suits sync and gthread workers; under a CPU-bound Python thread in the same process a
    render waits for the GIL at every crossing (measured: a 4 ms render took 49 ms), so keep
    CPU-heavy Python work out of processes that render with V8.
    """

    name = "v8"

    def __init__(self, memory_limit: int):
        self._mr, self._thread = _v8(memory_limit)

        def make() -> tuple[Any, Any, int | None]:
            before = _threads()
            maker = self._mr.mini_racer(self._thread.loop)
            context = maker.__enter__()
            context.set_hard_memory_limit(memory_limit)
            # the isolate's own thread: new, and not Python's (contexts are made here alone)
            made = _threads() - before - {thread.native_id for thread in threading.enumerate()}
            return maker, context, made.pop() if len(made) == 1 else None

        self._maker, self._context, isolate_thread = self._thread.call(make)
        self._pair = _Pair(isolate_thread)
        self._direct = _Direct(self._context)
        self._render_function: Any = None  # handles of `__mendelRender` and of an empty array
        self._no_arguments: Any = None
        self._props: Any = None  # the handle of the render's props, held until it has answered
        self._lock = threading.Lock()  # between a render and the watchdog
        self._task: int | None = None
        self._timed_out = False
        self._wedged = False

    def load(self, script: str, deadline: float) -> None:
        async def run() -> None:
            await self._eval(script, deadline)
            self._render_function = self._direct.to_handle(await self._eval("__mendelRender", deadline))
            self._no_arguments = self._direct.to_handle(await self._eval("[]", deadline))

        self._faults(lambda: self._thread.run(run()))

    def render(self, props_json: str, deadline: float) -> str:
        # one call of `__mendelRender` with the props JSON as its receiver (`this`): not as a
        # literal in code (a new 50 KB literal is parsed every time: measured 4-6 ms against
        # 2.7-3 ms for a 1,000-item page), nor put on an object first for a constant eval to read
        # (one more crossing into the isolate: measured, interleaved on one context, 1.34-1.47 ms
        # against 1.24-1.38 ms a render); V8 runs the render's promise jobs before the call returns
        direct = self._direct

        def run() -> Any:
            with self._pair:
                return render()

        def render() -> Any:
            self._props = direct.to_handle(props_json)
            with self._lock:
                self._timed_out = False
                self._task = direct.call(
                    direct.handle, self._render_function.raw, self._props.raw, self._no_arguments.raw, 0
                )
            ticket = watchdog().watch(deadline, self._expire)
            try:
                answer = direct.results.get(timeout=_left(deadline) + V8_CANCEL_GRACE)
            except queue.Empty:  # not even cancelling ended it: the context is left as it is
                self._wedged = True
                raise EngineFault("timeout", "the render passed its deadline and did not stop") from None
            finally:
                watchdog().cancel(ticket)
                with self._lock:
                    self._task = None
            self._props = None
            return direct.to_python(answer)

        return _answer(self._faults(run))

    def _expire(self) -> None:
        """The watchdog's call at the deadline: end the render (its answer is "terminated")."""
        with self._lock:
            if self._task is not None:
                self._timed_out = True
                self._direct.cancel(self._direct.handle, self._task)

    async def _eval(self, code: str, deadline: float) -> Any:
        """`code` evaluated on the V8 thread, cancelled at `deadline`."""
        try:
            return await asyncio.wait_for(self._context.eval_cancelable(code), _left(deadline))
        except asyncio.TimeoutError:
            raise EngineFault("timeout", "the render passed its deadline") from None

    def _faults(self, run: Callable[[], Any]) -> Any:
        """`run()`, mini-racer's exceptions turned into EngineFault."""
        mr = self._mr
        try:
            return run()
        except mr.JSOOMException:
            raise EngineFault("memory", "the render passed its memory cap") from None
        except mr.JSTimeoutException:
            raise EngineFault("timeout", "the render passed its deadline") from None
        except mr.JSEvalException as error:  # JSParseException and JSTerminatedException too
            if self._context.was_hard_memory_limit_reached():
                raise EngineFault("memory", "the render passed its memory cap") from None
            if self._timed_out:
                raise EngineFault("timeout", "the render passed its deadline") from None
            raise EngineFault("error", _v8_stack(error)) from None

    def memory_bytes(self) -> int:
        try:
            return int(self._context.heap_stats()["total_heap_size"])
        except ValueError:  # an isolate past its cap may answer with nothing
            return 0

    def discard(self) -> None:
        if self._wedged:  # its isolate still runs: leave it and the handles it may read, rather than wait on it
            return
        self._render_function = self._no_arguments = None  # (freed before the context is)

        def close() -> None:
            # a render ended by its deadline may still be being cancelled inside mini-racer: one
            # more eval queues behind it, so its last callback is handled before the context goes
            try:
                self._context.eval("0")
            except Exception:  # noqa: BLE001 - closing anyway
                pass
            self._maker.__exit__(None, None, None)

        self._thread.call(close)


def _answer(answer: Any) -> str:
    if not isinstance(answer, str) or not answer:
        raise EngineFault("error", f"TypeError: the render gave {type(answer).__name__}, not a string")
    return answer


def _left(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.001)


def _v8_stack(error: BaseException) -> str:
    """mini-racer's text of an exception: `<file>:<line>: <message>`, the source line and a caret,
    then the stack; keep the stack (message and `at` lines) when there is one."""
    text = str(error)
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if line.lstrip().startswith("at ") and number:
            start = number - 1
            while start > 0 and not lines[start].strip():
                start -= 1
            return "\n".join(lines[start:]).strip() + "\n"
    return text


# --- the watchdog -------------------------------------------------------------------------


class Watchdog:
    """One daemon thread per process calling each registered function at its deadline, unless it
    was cancelled first (a render that returned in time). Made lazily, again in a forked child."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._live: dict[int, Callable[[], None]] = {}
        self._ids = itertools.count()
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="mendel-ssr-watchdog", daemon=True)
        self._thread.start()

    def watch(self, deadline: float, call: Callable[[], None]) -> int:
        with self._wake:
            ticket = next(self._ids)
            self._live[ticket] = call
            heapq.heappush(self._heap, (deadline, ticket))
            if self._heap[0][1] == ticket:
                self._wake.notify()
            return ticket

    def cancel(self, ticket: int) -> None:
        with self._wake:
            self._live.pop(ticket, None)

    def _run(self) -> None:
        while True:
            with self._wake:
                while True:
                    while self._heap and self._heap[0][1] not in self._live:
                        heapq.heappop(self._heap)
                    if not self._heap:
                        self._wake.wait()
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        call = self._live.pop(heapq.heappop(self._heap)[1])
                        break
                    self._wake.wait(wait)
            call()


_watchdog: tuple[int, Watchdog] | None = None
_watchdog_lock = threading.Lock()


def watchdog() -> Watchdog:
    """This process's watchdog."""
    global _watchdog
    found = _watchdog
    if found is None or found[0] != current_pid():
        with _watchdog_lock:
            found = _watchdog
            if found is None or found[0] != current_pid():
                found = _watchdog = (current_pid(), Watchdog())
    return found[1]


def engine_from_environment(configured: str | None, given: str | None = None) -> str:
    """The engine to use: `given` (the caller's), else `MENDEL_SSR_ENGINE`, else the configured
    one (`.mendelrc` `ssr.engine`), else quickjs. A ConfigError names an unknown one."""
    from_environment = os.environ.get("MENDEL_SSR_ENGINE")
    name = given or from_environment or configured or DEFAULT_ENGINE
    if name not in ENGINES:
        where = None if given else "MENDEL_SSR_ENGINE" if from_environment else "ssr.engine"
        raise ConfigError(f"unknown SSR engine {name!r} (expected one of: {', '.join(ENGINES)})", key=where)
    return name
