"""npm packages the node-side checks use, installed once into the gitignored `benchmarks/.node`."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from e2e_support import REPO

NODE_PREFIX = REPO / "benchmarks" / ".node"  # gitignored, shared with the benchmarks' node side
needs_node_and_npm = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="needs node and npm"
)


def ensure_npm_package(spec: str) -> Path:
    """`npm install name@version` into the node folder unless that version is there; returns its
    `node_modules`."""
    name, wanted = spec.rsplit("@", 1)
    modules = NODE_PREFIX / "node_modules"
    installed = modules / name / "package.json"
    # another package's dependency (browser-pack brings source-map 0.5) may hold the name
    if not installed.exists() or json.loads(installed.read_text())["version"] != wanted:
        subprocess.run(
            ["npm", "install", "--prefix", str(NODE_PREFIX), spec, "--no-audit", "--no-fund", "--loglevel=error"],
            check=True, stdout=subprocess.DEVNULL, timeout=300,
        )
    return modules


# Runs a bundle in a fresh context with only `console`, then prints what it logged once every
# promise has settled (lazy imports resolve in microtasks).
VM_HARNESS = r"""
const vm = require('vm'), fs = require('fs');
const lines = [];
const show = (v) => typeof v === 'string' ? v : JSON.stringify(v);
const sandbox = {console: {log: (...a) => lines.push(a.map(show).join(' '))}};
vm.createContext(sandbox);
try { vm.runInContext(fs.readFileSync(process.argv[2], 'utf8'), sandbox); }
catch (e) { lines.push('uncaught ' + e.name); }
setTimeout(() => process.stdout.write(lines.join('\n') + '\n'), 50);
"""


def run_in_vm(tmp_path: Path, bundle: bytes, name: str) -> str:
    """What `bundle` logs run in `VM_HARNESS` (node), written as `tmp_path/<name>.js`."""
    script = tmp_path / f"{name}.js"
    script.write_bytes(bundle)
    harness = tmp_path / "harness.cjs"
    harness.write_text(VM_HARNESS)
    done = subprocess.run(["node", str(harness), str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout
