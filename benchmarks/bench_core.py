"""Core benchmark: mendel_py's MendelTrees against mendel-core 3.0.6 on one synthetic project.

Run from the repository root: `.venv/bin/python benchmarks/bench_core.py [--quick] [--json]`.
See benchmarks/README.md for what each number means.
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
if str(HERE.parent) not in sys.path:
    sys.path.insert(1, str(HERE.parent))

import synth  # noqa: E402

NODE_PREFIX = HERE / ".node"
NODE_MODULES = NODE_PREFIX / "node_modules"
HARNESS = HERE / "mendel_core_bench.js"
MENDEL_CORE_SPEC = "mendel-core@3.0.6"
MENDEL_CORE_VERSION = "3.0.6"
BUNDLE = synth.BUNDLE_ID
TARGETS = {"cold_resolve": 0.5, "decode": 0.5, "warm_resolve": 0.01}


@dataclass
class Settings:
    modules: int = 2000
    variations: int = 45
    layers: int = 5
    override_ratio: float = 0.05
    dep_change_ratio: float = 0.3
    samples: int = 200
    warm_samples: int = 5000
    load_samples: int = 5
    warmup: int = 30
    seed: int = 1
    as_json: bool = False
    node: bool = True


@dataclass
class Stat:
    """A median over `runs` samples, in nanoseconds."""

    median_ns: float | None
    runs: int
    note: str = ""


@dataclass
class Results:
    ours: dict[str, Stat] = field(default_factory=dict)
    memory: dict[str, int] = field(default_factory=dict)
    node: dict[str, Any] | None = None
    node_skipped: str = ""
    mismatches: list[str] = field(default_factory=list)


# --- timing helpers ---------------------------------------------------------------------------

@contextmanager
def gc_paused() -> Iterator[None]:
    """Collect once, then keep the cyclic GC off for a sample batch."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def stat(samples: Sequence[int], note: str = "") -> Stat:
    return Stat(statistics.median(samples) if samples else None, len(samples), note)


def time_call(fn: Callable[[], Any]) -> int:
    start = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - start


def current_rss() -> int:
    """Resident set size of this process in bytes (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


# --- our side ---------------------------------------------------------------------------------

def new_trees(project: str, hash_format: str | None = None) -> Any:
    from mendel_py import MendelTrees

    return MendelTrees(basedir=project, hash_format=hash_format)


def make_cold(trees: Any, project: str, hash_format: str | None) -> Any:
    """Forget every memoized walk and plan (or, lacking clear_caches, start a new instance)."""
    if hasattr(trees, "clear_caches"):
        trees.clear_caches()
        return trees
    return new_trees(project, hash_format)


def measure_load(project: str, settings: Settings, results: Results) -> None:
    """Time MendelTrees(basedir) and measure its memory (RSS delta first, then tracemalloc)."""
    rss_before = current_rss()
    trees = new_trees(project)
    results.memory["rss_delta_bytes"] = current_rss() - rss_before
    del trees
    samples = []
    for _ in range(settings.load_samples):
        with gc_paused():
            samples.append(time_call(lambda: new_trees(project)))
    results.ours["load"] = stat(samples)
    tracemalloc.start()
    trees = new_trees(project)
    results.memory["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del trees


def resolve_once(trees: Any, names: Sequence[str]) -> tuple[int, int, str]:
    """(chains ns, resolve ns, hash) of one request; the timed resolve includes reading .hash."""
    start = time.perf_counter_ns()
    _, chains = trees.variations_and_chains(names)
    chained = time.perf_counter_ns()
    tree_hash = trees.find_tree_for_variations(BUNDLE, chains).hash
    return chained - start, time.perf_counter_ns() - chained, tree_hash


def warm_up(trees: Any, warmup_sets: Sequence[Sequence[str]]) -> None:
    for names in warmup_sets:
        _, _, tree_hash = resolve_once(trees, names)
        _ = trees.find_tree_for_hash(BUNDLE, tree_hash).files


def measure_cold(project: str, sets: Sequence[Sequence[str]], warmup_sets: Sequence[Sequence[str]],
                 results: Results, hash_format: str | None = None, prefix: str = "") -> list[str]:
    """Each set resolved once with all caches cleared first; returns the hashes."""
    trees = new_trees(project, hash_format)
    warm_up(trees, warmup_sets)
    chain_ns, walk_ns, hashes = [], [], []
    with gc_paused():
        for names in sets:
            trees = make_cold(trees, project, hash_format)
            chains_time, resolve_time, tree_hash = resolve_once(trees, names)
            chain_ns.append(chains_time)
            walk_ns.append(resolve_time)
            hashes.append(tree_hash)
    totals = [a + b for a, b in zip(chain_ns, walk_ns)]
    results.ours[f"{prefix}variations_and_chains"] = stat(chain_ns, "caches cleared")
    results.ours[f"{prefix}cold_resolve_walk"] = stat(walk_ns, "caches cleared, new set each")
    results.ours[f"{prefix}cold_resolve"] = stat(totals, "caches cleared, new set each")
    return hashes


def measure_cold_kept(project: str, sets: Sequence[Sequence[str]],
                      warmup_sets: Sequence[Sequence[str]], results: Results) -> None:
    """Each set resolved once on a long-lived instance: new set, but walk plans may be reused."""
    trees = new_trees(project)
    warm_up(trees, warmup_sets)
    totals = []
    with gc_paused():
        for names in sets:
            chains_time, resolve_time, _ = resolve_once(trees, names)
            totals.append(chains_time + resolve_time)
    results.ours["cold_resolve_kept"] = stat(totals, "long-lived instance, new set each")


def measure_warm(project: str, names: Sequence[str], settings: Settings, results: Results) -> None:
    """The same set again and again, variations_and_chains included."""
    trees = new_trees(project)
    for _ in range(settings.warmup):
        resolve_once(trees, names)
    totals = []
    with gc_paused():
        for _ in range(settings.warm_samples):
            chains_time, resolve_time, _ = resolve_once(trees, names)
            totals.append(chains_time + resolve_time)
    results.ours["warm_resolve"] = stat(totals, "same set repeated")


def measure_decode(project: str, hashes: Sequence[str], warmup_sets: Sequence[Sequence[str]],
                   results: Results, hash_format: str | None, key: str) -> None:
    """Each distinct hash decoded once, caches cleared before each; includes reading .files."""
    trees = new_trees(project, hash_format)
    warm_up(trees, warmup_sets)
    samples = []
    with gc_paused():
        for text in dict.fromkeys(hashes):
            trees = make_cold(trees, project, hash_format)
            samples.append(time_call(lambda trees=trees, text=text: trees.find_tree_for_hash(BUNDLE, text).files))
    results.ours[key] = stat(samples, "caches cleared, each hash once")


def measure_decode_kept(project: str, hashes: Sequence[str], warmup_sets: Sequence[Sequence[str]],
                        results: Results) -> None:
    """Each distinct v3 hash decoded once by a long-lived instance that never saw it."""
    trees = new_trees(project)
    warm_up(trees, warmup_sets)
    samples = []
    with gc_paused():
        for text in dict.fromkeys(hashes):
            samples.append(time_call(lambda text=text: trees.find_tree_for_hash(BUNDLE, text).files))
    results.ours["decode_v3_kept"] = stat(samples, "long-lived instance, each hash once")


def measure_ours(project: str, sets: list[list[str]], warmup_sets: list[list[str]],
                 settings: Settings, results: Results) -> list[str]:
    """All our numbers; returns the mendel-v1 hashes of `sets` for the cross-check."""
    measure_load(project, settings, results)
    v3_hashes = measure_cold(project, sets, warmup_sets, results)
    measure_cold_kept(project, sets, warmup_sets, results)
    measure_warm(project, sets[0], settings, results)
    measure_decode(project, v3_hashes, warmup_sets, results, None, "decode_v3")
    measure_decode_kept(project, v3_hashes, warmup_sets, results)
    v1_hashes = measure_cold(project, sets, warmup_sets, results, "mendel-v1", prefix="v1_")
    measure_decode(project, v1_hashes, warmup_sets, results, "mendel-v1", "decode_v1")
    return v1_hashes


# --- mendel-core side -------------------------------------------------------------------------

def node_unavailable_reason() -> str:
    """Empty when node and npm are on PATH, else why the mendel-core side is skipped."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not found" if missing else ""


def installed_mendel_core() -> str | None:
    package = NODE_MODULES / "mendel-core" / "package.json"
    if not package.exists():
        return None
    return json.loads(package.read_text(encoding="utf-8")).get("version")


def ensure_mendel_core() -> None:
    """npm install mendel-core 3.0.6 into benchmarks/.node unless it is already there."""
    if installed_mendel_core() == MENDEL_CORE_VERSION:
        return
    subprocess.run(["npm", "install", "--prefix", str(NODE_PREFIX), MENDEL_CORE_SPEC,
                    "--no-audit", "--no-fund", "--loglevel=error"],
                   check=True, stdout=subprocess.DEVNULL)


def run_mendel_core(project: str, sets: Sequence[Sequence[str]], chains: Sequence[Any],
                    warmup_sets: Sequence[Sequence[str]], warm_repeats: int,
                    workdir: str) -> dict[str, Any]:
    """Run benchmarks/mendel_core_bench.js on the same project, sets and lookup chains."""
    request = {"root": os.path.abspath(project), "bundle": BUNDLE, "sets": list(sets),
               "chains": list(chains), "warmup_sets": list(warmup_sets),
               "warm_repeats": warm_repeats, "load_repeats": 5}
    request_path = os.path.join(workdir, "mendel_core_input.json")
    with open(request_path, "w", encoding="utf-8") as handle:
        json.dump(request, handle)
    done = subprocess.run(["node", "--expose-gc", "--no-deprecation", str(HARNESS),
                           str(NODE_MODULES), request_path],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def chains_for(project: str, sets: Sequence[Sequence[str]]) -> list[list[list[str]]]:
    trees = new_trees(project)
    return [trees.variations_and_chains(names)[1] for names in sets]


# --- cross-check ------------------------------------------------------------------------------

def files_digest(files: Sequence[str]) -> str:
    """sha1 of the resolved files in manifest index order, as the node harness computes it."""
    return hashlib.sha1("\n".join(files).encode("utf-8")).hexdigest()


def describe_tree(tree: Any) -> dict[str, Any]:
    files = [entry["file"] for entry in tree.files]
    return {"hash": tree.hash, "conflicts": tree.conflicts,
            "conflict_list": sorted(tree.conflict_list), "file_count": len(files),
            "files_sha1": files_digest(files)}


def cross_check(project: str, sets: Sequence[Sequence[str]], chains: Sequence[Any],
                node: dict[str, Any]) -> list[str]:
    """Every difference between mendel-core and our mendel-v1 trees, as readable lines."""
    trees = new_trees(project, "mendel-v1")
    problems = [f"decode by mendel-core failed: {error}" for error in node["decode_errors"]]
    for n, names in enumerate(sets):
        if node["chains_mendel_core"][n] != chains[n]:
            problems.append(f"set {names}: chains differ: ours {chains[n]} "
                            f"mendel-core {node['chains_mendel_core'][n]}")
        ours = describe_tree(trees.find_tree_for_variations(BUNDLE, chains[n]))
        theirs = node["results"][n]
        problems += [f"set {names}: {key} differs: ours {ours[key]!r} mendel-core {theirs[key]!r}"
                     for key in ours if ours[key] != theirs[key]]
        problems += decode_problems(trees, names, theirs)
    return problems


def decode_problems(trees: Any, names: Sequence[str], theirs: dict[str, Any]) -> list[str]:
    """We must decode mendel-core's hash to the same files."""
    try:
        decoded = describe_tree(trees.find_tree_for_hash(BUNDLE, theirs["hash"]))
    except Exception as error:  # noqa: BLE001 - reported, not hidden
        return [f"set {names}: we cannot decode mendel-core's hash: {error!r}"]
    if decoded["files_sha1"] != theirs["files_sha1"]:
        return [f"set {names}: decoding mendel-core's hash gives other files"]
    return []


# --- reporting --------------------------------------------------------------------------------

def fmt_ns(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} ns"


def fmt_bytes(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f} MiB"


def node_stat(node: dict[str, Any] | None, key: str) -> Stat:
    if not node:
        return Stat(None, 0)
    return Stat(node[key]["median_ns"], node[key]["runs"])


def comparison_rows(results: Results) -> list[tuple[str, Stat, Stat]]:
    ours, node = results.ours, results.node
    node_load = Stat(node["load"]["mendel_trees_ns"], 1, "") if node else Stat(None, 0)
    return [
        ("manifest load", ours["load"], node_load),
        ("variations_and_chains", ours["variations_and_chains"],
         node_stat(node, "variations_and_chains")),
        ("cold resolve (incl. chains)", ours["cold_resolve"],
         node_stat(node, "cold_resolve_with_chains")),
        ("cold resolve, walk only", ours["cold_resolve_walk"], node_stat(node, "cold_resolve")),
        ("cold resolve, plans kept", ours["cold_resolve_kept"], Stat(None, 0)),
        ("cold resolve mendel-v1", ours["v1_cold_resolve"],
         node_stat(node, "cold_resolve_with_chains")),
        ("warm resolve (incl. chains)", ours["warm_resolve"],
         node_stat(node, "warm_resolve_with_chains")),
        ("decode v3", ours["decode_v3"], node_stat(node, "decode")),
        ("decode v3, plans kept", ours["decode_v3_kept"], node_stat(node, "decode")),
        ("decode mendel-v1", ours["decode_v1"], node_stat(node, "decode")),
    ]


def ratios(results: Results) -> dict[str, float | None]:
    """ours / mendel-core for the three targets (and decode of v1 hashes, for reference)."""
    if not results.node:
        return {}
    pairs = {"cold_resolve": ("cold_resolve", "cold_resolve_with_chains"),
             "decode": ("decode_v3", "decode"),
             "decode_v1": ("decode_v1", "decode"),
             "decode_kept": ("decode_v3_kept", "decode"),
             "warm_resolve": ("warm_resolve", "warm_resolve_with_chains")}
    out: dict[str, float | None] = {}
    for name, (ours_key, node_key) in pairs.items():
        theirs = results.node[node_key]["median_ns"]
        out[name] = results.ours[ours_key].median_ns / theirs if theirs else None
    return out


def print_table(settings: Settings, results: Results) -> None:
    print(f"synthetic project: {settings.modules} modules, {settings.variations} variations in "
          f"{settings.layers} layers, seed {settings.seed}")
    if results.node:
        print(f"mendel-core {results.node['mendel_core_version']} "
              f"(mendel-config {results.node['mendel_config_version']}) on node "
              f"{results.node['node_version']}")
    else:
        print(f"mendel-core side skipped: {results.node_skipped}")
    print(f"\n{'measure':30} {'mendel_py':>12} {'runs':>6} {'mendel-core':>12} {'runs':>6}")
    for label, ours, theirs in comparison_rows(results):
        print(f"{label:30} {fmt_ns(ours.median_ns):>12} {ours.runs:>6} "
              f"{fmt_ns(theirs.median_ns):>12} {theirs.runs or '':>6}")
    print_memory(results)
    print_ratios(results)


def print_memory(results: Results) -> None:
    memory = results.memory
    print(f"\nmanifest memory, mendel_py: tracemalloc peak "
          f"{fmt_bytes(memory.get('tracemalloc_peak_bytes'))}, RSS delta "
          f"{fmt_bytes(memory.get('rss_delta_bytes'))}")
    if results.node:
        load = results.node["load"]
        print(f"mendel-core process after load and runs: heap used "
              f"{fmt_bytes(load['heap_used_bytes'])}, RSS {fmt_bytes(load['rss_bytes'])}; "
              f"JSON.parse of the manifest "
              f"{fmt_ns(load['json_parse_ns'])}")


def print_ratios(results: Results) -> None:
    found = ratios(results)
    if not found:
        return
    print("\nmendel_py / mendel-core (lower is better):")
    for name, value in found.items():
        target = TARGETS.get(name)
        verdict = "" if target is None or value is None else (
            f"target <= {target}: {'met' if value <= target else 'MISSED'}")
        shown = "-" if value is None else f"{value:.4f}"
        print(f"  {name:14} {shown:>8}  {verdict}")


def print_mismatches(problems: Sequence[str]) -> None:
    print("\n" + "!" * 72, file=sys.stderr)
    print(f"MISMATCH: mendel-core and mendel_py (mendel-v1) disagree in {len(problems)} "
          "place(s):", file=sys.stderr)
    for line in problems[:50]:
        print(f"  {line}", file=sys.stderr)
    print("!" * 72, file=sys.stderr)


def as_json(settings: Settings, results: Results) -> dict[str, Any]:
    return {"settings": asdict(settings),
            "mendel_py": {k: asdict(v) for k, v in results.ours.items()},
            "mendel_py_memory": results.memory,
            "mendel_core": {k: v for k, v in (results.node or {}).items()
                            if k not in ("results", "chains_mendel_core")} or None,
            "mendel_core_skipped": results.node_skipped or None,
            "ratios": ratios(results), "targets": TARGETS,
            "mismatches": results.mismatches}


# --- driver -----------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, help="modules in the project (default 2000)")
    parser.add_argument("--variations", type=int, help="variations (default 45)")
    parser.add_argument("--samples", type=int, help="cold samples = distinct sets (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--override-ratio", type=float, help="share of modules varied (default 0.05)")
    parser.add_argument("--dep-change-ratio", type=float,
                        help="share of overrides whose imports differ: new walk shapes (default 0.3)")
    parser.add_argument("--quick", action="store_true", help="small project, few samples")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-node", action="store_true", help="skip the mendel-core side")
    args = parser.parse_args(argv)
    settings = Settings(seed=args.seed, as_json=args.json, node=not args.no_node)
    if args.quick:
        settings = Settings(modules=200, variations=12, samples=20, warm_samples=500,
                            load_samples=3, warmup=5, seed=args.seed, as_json=args.json,
                            node=not args.no_node)
    settings.modules = args.modules or settings.modules
    settings.variations = args.variations or settings.variations
    settings.samples = args.samples or settings.samples
    if args.override_ratio is not None:
        settings.override_ratio = args.override_ratio
    if args.dep_change_ratio is not None:
        settings.dep_change_ratio = args.dep_change_ratio
    return settings


def draw_sets(settings: Settings) -> tuple[list[list[str]], list[list[str]]]:
    """(measured sets, warm-up sets): all distinct, so every measured set is new to a run."""
    drawn = list(synth.random_variation_sets(settings.samples + settings.warmup, settings.seed,
                                             settings.variations, settings.layers))
    return drawn[:settings.samples], drawn[settings.samples:]


def run(settings: Settings, workdir: str) -> Results:
    results = Results()
    project = synth.write_synthetic_project(
        os.path.join(workdir, "project"), modules=settings.modules,
        variations=settings.variations, layers=settings.layers, seed=settings.seed,
        override_ratio=settings.override_ratio, dep_change_ratio=settings.dep_change_ratio)
    sets, warmup_sets = draw_sets(settings)
    measure_ours(project, sets, warmup_sets, settings, results)
    results.node_skipped = "--no-node" if not settings.node else node_unavailable_reason()
    if not results.node_skipped:
        ensure_mendel_core()
        chains = chains_for(project, sets)
        results.node = run_mendel_core(project, sets, chains, warmup_sets,
                                       min(settings.warm_samples, 500), workdir)
        results.mismatches = cross_check(project, sets, chains, results.node)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mendel-bench-") as workdir:
        results = run(settings, workdir)
    if settings.as_json:
        print(json.dumps(as_json(settings, results), indent=2))
    else:
        print_table(settings, results)
    if results.mismatches:
        print_mismatches(results.mismatches)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
