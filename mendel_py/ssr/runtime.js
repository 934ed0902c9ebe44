// The render runtime (see mendel_py/ssr/script.py); the last line's placeholder becomes the tree's
// settings (its server module, export and package modules).
(function (G, cfg) {
"use strict";
var defs = G.__mendelDefs;
delete G.__mendelDefs;
var own = Object.prototype.hasOwnProperty, keys = Reflect.ownKeys, describe = Object.getOwnPropertyDescriptor;
var define = Object.defineProperty, protoOf = Object.getPrototypeOf, extensible = Object.isExtensible;
var mods = Object.create(null), shared = Object.create(null), packages = Object.create(null), i;
for (i = 0; i < defs.length; i++) mods[defs[i][0]] = defs[i];
defs = null;
for (i = 0; i < cfg.packages.length; i++) packages[cfg.packages[i]] = true;
// console: what a render logs is handed to the server's log after the render
var logs = [];
function logger(level) {
  return function () {
    var parts = [];
    for (var k = 0; k < arguments.length; k++) parts.push(String(arguments[k]));
    if (logs.length < 100) logs.push([level, parts.join(" ")]);
  };
}
var con = {};
["log", "info", "warn", "error", "debug", "trace"].forEach(function (l) { con[l] = logger(l); });
define(G, "console", {value: con, writable: true, configurable: true, enumerable: false});
function notFound(name) {
  var e = new Error("Cannot find module '" + name + "'");
  e.code = "MODULE_NOT_FOUND";
  return e;
}
// A module registry: project modules in a cache of its own, packages in the context's.
function registry() {
  var fresh = Object.create(null);
  function req(name) {
    var cache = packages[name] ? shared : fresh;
    if (own.call(cache, name)) return cache[name].exports;
    var def = mods[name];
    if (!def) throw notFound(name);
    var m = cache[name] = {exports: {}}, deps = def[2];
    function r(x) { var to = own.call(deps, x) && deps[x]; return req(to ? to : x); }
    r.lazy = function (x) { try { return Promise.resolve(r(x)); } catch (e) { return Promise.reject(e); } };
    try { def[1].call(m.exports, r, m, m.exports); } catch (e) { delete cache[name]; throw e; }
    return m.exports;
  }
  return req;
}
// packages the project requires, evaluated once now (one that fails is tried again when required)
var warm = registry();
for (i = 0; i < cfg.warm.length; i++) { try { warm(cfg.warm[i]); } catch (e) { /* left to the render */ } }
warm = null;
// The baseline: the global object and the built-ins, each with its prototype and properties.
var watched = [G, Object.prototype, Function.prototype];
function watch(v) {  // a constructor comes with its prototype object
  if (v === null || (typeof v !== "object" && typeof v !== "function") || v === G.__mendelRender) return;
  watched.push(v);
  if (typeof v === "function" && v.prototype && typeof v.prototype === "object") watched.push(v.prototype);
}
keys(G).forEach(function (name) {
  var d = describe(G, name), v = d && d.value;
  if (typeof v === "function") watch(v);
  else if (v && typeof v === "object" && v !== G) {
    watch(v);  // JSON, Math, Reflect, Atomics, console, Intl, WebAssembly: their constructors too
    keys(v).forEach(function (member) {
      var m = describe(v, member);
      if (m && typeof m.value === "function" && m.value.prototype) watch(m.value);
    });
  }
});
// the intrinsics no global names (what an engine lacks is skipped): the typed arrays' shared
// constructor, the iterator prototypes, the generator and async functions' own prototypes
[function () { return protoOf(Uint8Array); },
 function () { return protoOf(protoOf([][Symbol.iterator]())); },
 function () { return protoOf([][Symbol.iterator]()); },
 function () { return protoOf(new Map()[Symbol.iterator]()); },
 function () { return protoOf(new Set()[Symbol.iterator]()); },
 function () { return protoOf(""[Symbol.iterator]()); },
 function () { return protoOf(/a/[Symbol.matchAll]("")); },
 function () { return protoOf(function* () {}).constructor; },
 function () { return protoOf(function* () {}).prototype; },
 function () { return protoOf(async function* () {}).prototype; },
 function () { return protoOf(async function () {}).constructor; },
 function () { return protoOf(async function* () {}).constructor; },
 function () { return protoOf(protoOf(async function* () {}).prototype); }
].forEach(function (intrinsic) { try { watch(intrinsic()); } catch (e) { /* not in this engine */ } });
watched = watched.filter(function (o, k) { return watched.indexOf(o) === k; });
function snapshot(o) {
  var ks = keys(o), values = [], accessors = [];
  for (var k = 0; k < ks.length; k++) {
    var d = describe(o, ks[k]);
    values.push(d.value);
    if (d.get || d.set) accessors.push(k);
  }
  return {proto: protoOf(o), keys: ks, values: values, accessors: accessors, descs: ks.map(function (n) { return describe(o, n); })};
}
var baseline;
function same(a, b) {
  return a.value === b.value && a.get === b.get && a.set === b.set && a.writable === b.writable
    && a.enumerable === b.enumerable && a.configurable === b.configurable;
}
// Whether `o` is as at the baseline: the same own keys in the same order (so none came or went;
// one compare each, where asking whether each baseline key is still own was a second pass:
// 0.02-0.07 ms less a Preact render of 1.5-1.7 ms, five interleaved comparisons), the same
// values, accessors unchanged. The common case, read without descriptors.
function unchanged(o, s) {
  if (!extensible(o) || protoOf(o) !== s.proto) return false;
  var now = keys(o), ks = s.keys, vs = s.values, k;
  if (now.length !== ks.length) return false;
  for (k = 0; k < ks.length; k++) if (now[k] !== ks[k]) return false;
  for (k = 0; k < s.accessors.length; k++) if (!same(describe(o, ks[s.accessors[k]]), s.descs[s.accessors[k]])) return false;
  for (k = 0; k < ks.length; k++) {
    if (s.accessors.length && s.descs[k].get) continue;
    if (o[ks[k]] !== vs[k] && vs[k] === vs[k]) return false;  // NaN stays NaN
  }
  return true;
}
// Put every watched object back; false when something could not be undone.
function restore() {
  var clean = true;
  for (var w = 0; w < watched.length; w++) {
    var o = watched[w], s = baseline[w];
    if (unchanged(o, s)) continue;
    var undone = extensible(o) && protoOf(o) === s.proto;
    var now = keys(o), has = new Set(s.keys);
    for (var k = 0; k < now.length; k++) {
      if (!has.has(now[k]) && !Reflect.deleteProperty(o, now[k])) undone = false;
    }
    for (k = 0; k < s.keys.length; k++) {
      var d = describe(o, s.keys[k]);
      if (!d || !same(d, s.descs[k])) { try { define(o, s.keys[k], s.descs[k]); } catch (e) { undone = false; } }
    }
    // as at the baseline but perhaps in another key order (a key deleted and defined again): its
    // baseline is taken again, or every later check would find it changed
    if (undone) baseline[w] = snapshot(o);
    else clean = false;
  }
  return clean;
}
function exported(mod) {
  var fn = mod == null ? undefined : mod[cfg.export];
  if (fn === undefined && cfg.export === "default" && typeof mod === "function") fn = mod;
  if (typeof fn !== "function") throw new TypeError("the server module's export '" + cfg.export + "' is not a function");
  return fn;
}
// One call per render: first put back what the previous render (and its promise jobs) changed,
// then render through a fresh registry. The answer is "0" + HTML; "1" + the console's lines as
// JSON + "\n" + HTML; or "2" alone: the previous render left what can't be undone (the context
// must go, and the render is done again in a new one).
// The props JSON is the argument, or (V8: a string handle, no arguments array made for it) the
// receiver: a strict function's `this` is the string itself.
define(G, "__mendelRender", {value: function (propsJson) {
  if (propsJson === undefined) propsJson = this;
  if (!restore()) return "2";
  logs = [];
  var html = exported(registry()(cfg.module))(JSON.parse(propsJson));
  if (typeof html !== "string") throw new TypeError("the render function returned " + typeof html + ", not a string");
  // String() makes one flat string: QuickJS can't hand a concatenation (a rope) to Python
  return String(logs.length ? "1" + JSON.stringify(logs) + "\n" + html : "0" + html);
}});
baseline = watched.map(snapshot);
})(globalThis, __MENDEL_CONFIG__);
