#!/usr/bin/env node
/* Times Yahoo's mendel-core 3.x on a synthetic project, for benchmarks/bench_core.py.

   Usage: node --expose-gc mendel_core_bench.js <node_modules dir> <input.json>

   input.json: {
     "root": project folder (holds .mendelrc and the manifest),
     "bundle": bundle id,
     "warmup_sets": [[variation ids], ...]   sets used only to warm up the JIT,
     "warmup_iterations": resolve + decode calls cycling through warmup_sets (default 300),
     "sets": [[variation ids], ...]          measured sets, each resolved once = "cold",
     "chains": [[[folders], ...], ...]        optional: lookup chains per set (from Python);
                                              when given they are what gets walked,
     "warm_repeats": number of times the first set is resolved again = "warm",
     "load_repeats": number of JSON.parse runs of the manifest
   }

   mendel-core is used unmodified: require('mendel-core/trees.js') builds its own
   MendelTrees from a config object. The config is the project's .mendelrc (parsed with the
   js-yaml that mendel-config depends on) with two adjustments mendel-config 3.x needs:
   `base-config.dir` made absolute (mendel-config resolves it against process.cwd()) and
   `base-config.outdir` set to the project root (mendel-config resolves bundle manifests
   against outdir, which defaults to "build/"). `config: false` stops it from reading the file
   itself. Everything else (variation chains, manifest loading, the walk, the walkers and the
   hash serialiser) is mendel-core's and mendel-config's own code.

   Output: one JSON object on stdout with medians in nanoseconds and, per measured set, the
   hash, conflict count and a digest of the resolved files, for cross-checking. */
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

function main(argv) {
    const modulesDir = path.resolve(argv[2]);
    const input = JSON.parse(fs.readFileSync(argv[3], 'utf8'));
    const yaml = require(path.join(modulesDir, 'js-yaml'));
    const MendelTrees = require(path.join(modulesDir, 'mendel-core', 'trees.js'));
    const corePackage = require(path.join(modulesDir, 'mendel-core', 'package.json'));
    const configPackage = require(path.join(modulesDir, 'mendel-config', 'package.json'));

    const manifestPath = manifestPathOf(input.root, input.bundle, yaml);
    const load = measureLoad(manifestPath, input.load_repeats || 5);
    const startLoad = process.hrtime.bigint();
    const trees = new MendelTrees(mendelConfig(input.root, yaml));
    const treesLoadNs = Number(process.hrtime.bigint() - startLoad);

    const ownChains = input.sets.map(set => trees.variationsAndChains(set).lookupChains);
    const chains = input.chains || ownChains;

    warmUp(trees, input.bundle, input.warmup_sets || [], input.warmup_iterations || 300);
    const cold = measureCold(trees, input.bundle, input.sets, chains);
    const warm = measureWarm(trees, input.bundle, input.sets[0], chains[0],
        input.warm_repeats || 200);
    const decode = measureDecode(trees, input.bundle, cold.results.map(r => r.hash));

    const output = {
        mendel_core_version: corePackage.version,
        mendel_config_version: configPackage.version,
        node_version: process.version,
        load: {
            json_parse_ns: median(load),
            json_parse_runs: load.length,
            mendel_trees_ns: treesLoadNs,
            heap_used_bytes: process.memoryUsage().heapUsed,
            rss_bytes: process.memoryUsage().rss,
        },
        variations_and_chains: summary(cold.chainsNs),
        cold_resolve: summary(cold.walkNs),
        cold_resolve_with_chains: summary(cold.totalNs),
        warm_resolve: summary(warm.walkNs),
        warm_resolve_with_chains: summary(warm.totalNs),
        decode: summary(decode.ns),
        decode_errors: decode.errors,
        chains_mendel_core: ownChains,
        results: cold.results,
    };
    process.stdout.write(JSON.stringify(output) + '\n');
}

function manifestPathOf(root, bundle, yaml) {
    const rc = yaml.safeLoad(fs.readFileSync(path.join(root, '.mendelrc'), 'utf8'));
    return path.resolve(root, rc.bundles[bundle].manifest);
}

function mendelConfig(root, yaml) {
    const rc = yaml.safeLoad(fs.readFileSync(path.join(root, '.mendelrc'), 'utf8'));
    const base = Object.assign({}, rc['base-config']);
    base.dir = path.resolve(root, base.dir);
    base.outdir = root;
    return Object.assign({}, rc, {
        'base-config': base,
        projectRoot: root,
        config: false,
    });
}

function measureLoad(manifestPath, repeats) {
    const text = fs.readFileSync(manifestPath, 'utf8');
    const samples = [];
    for (let i = 0; i < repeats; i++) {
        collectGarbage();
        const start = process.hrtime.bigint();
        JSON.parse(text);
        samples.push(Number(process.hrtime.bigint() - start));
    }
    return samples;
}

/* V8 needs a few hundred calls before the walk is optimised; mendel-core keeps no cache, so
   cycling through the warm-up sets does not make the measured sets any less cold. */
function warmUp(trees, bundle, sets, iterations) {
    for (let i = 0; sets.length && i < iterations; i++) {
        const set = sets[i % sets.length];
        const tree = trees.findTreeForVariations(bundle,
            trees.variationsAndChains(set).lookupChains);
        trees.findTreeForHash(bundle, tree.hash);
    }
}

function measureCold(trees, bundle, sets, chains) {
    const chainsNs = [];
    const walkNs = [];
    const totalNs = [];
    const results = [];
    collectGarbage();
    for (let i = 0; i < sets.length; i++) {
        const start = process.hrtime.bigint();
        trees.variationsAndChains(sets[i]);
        const chained = process.hrtime.bigint();
        const tree = trees.findTreeForVariations(bundle, chains[i]);
        const end = process.hrtime.bigint();
        chainsNs.push(Number(chained - start));
        walkNs.push(Number(end - chained));
        totalNs.push(Number(end - start));
        results.push(describe(tree));
    }
    return {chainsNs, walkNs, totalNs, results};
}

function measureWarm(trees, bundle, set, chains, repeats) {
    const walkNs = [];
    const totalNs = [];
    collectGarbage();
    for (let i = 0; i < repeats; i++) {
        const start = process.hrtime.bigint();
        trees.variationsAndChains(set);
        const chained = process.hrtime.bigint();
        trees.findTreeForVariations(bundle, chains);
        const end = process.hrtime.bigint();
        walkNs.push(Number(end - chained));
        totalNs.push(Number(end - start));
    }
    return {walkNs, totalNs};
}

function measureDecode(trees, bundle, hashes) {
    const ns = [];
    const errors = [];
    collectGarbage();
    for (const hash of hashes) {
        const start = process.hrtime.bigint();
        const tree = trees.findTreeForHash(bundle, hash);
        ns.push(Number(process.hrtime.bigint() - start));
        if (tree.error) {
            errors.push({hash, code: tree.error.code, message: tree.error.message});
        }
    }
    return {ns, errors};
}

/* What Python compares: hash, conflicts and a digest of the resolved files in index order. */
function describe(tree) {
    const files = tree.deps.filter(Boolean).map(dep => dep.file);
    return {
        hash: tree.hash,
        conflicts: tree.conflicts,
        conflict_list: Object.keys(tree.conflictList).sort(),
        file_count: files.length,
        files_sha1: crypto.createHash('sha1').update(files.join('\n')).digest('hex'),
    };
}

function summary(samples) {
    return {median_ns: median(samples), runs: samples.length};
}

function median(samples) {
    if (!samples.length) return null;
    const sorted = samples.slice().sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function collectGarbage() {
    if (typeof global.gc === 'function') global.gc();
}

main(process.argv);
