// The render runtime (see mendel_py/ssr/script.py); the last line's placeholder becomes the tree's
// settings (its server module, export and package modules).
(function (G, cfg) {
"use strict";
var defs = G.__mendelDefs;
delete G.__mendelDefs;
// The built-ins the runtime calls, taken before any package or render could replace one; the
// restore check and the wrappers below reach them only this way (`apply`, never `.call`).
var own = Object.prototype.hasOwnProperty, keys = Reflect.ownKeys, describe = Object.getOwnPropertyDescriptor;
var define = Object.defineProperty, protoOf = Object.getPrototypeOf, extensible = Object.isExtensible;
var apply = Reflect.apply, remove = Reflect.deleteProperty, enumerable = Object.keys, is = Object.is;
var stringify = JSON.stringify, compile = Function, create = Object.create, WM = WeakMap.prototype;
var hasOwn = Object.hasOwn || function (o, key) { return apply(own, o, [key]); };
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
// The calls that can change a property's attributes, or add one `Object.keys` does not list:
// each notes when its object is one the baseline watches (or a proxy of one), and the next
// restore then compares everything (see `restore`). Each keeps the engine's name, length and
// native source text (lodash, for one, uses a function only if it is native), and is installed
// before any package runs: a package that keeps `Object.defineProperty` in a variable keeps this one.
// `marks`: true for a watched object, its target for a proxy (bound, the calls reach the engine's
// methods with no property looked up on the way)
var marks = new WeakMap(), redefined = false;
var NativeProxy = Proxy, construct = Reflect.construct, bind = Function.prototype.bind;
var markOf = apply(bind, WM.get, [marks]), mark = apply(bind, WM.set, [marks]);
function touches(o) {
  for (var m = markOf(o); m !== undefined; m = markOf(m)) if (m === true) return true;
  return false;
}
// Puts in place of the engine's `owner[name]` either the function `trap(native)` makes, bound
// (`kind` null), or a proxy of the engine's with `trap` as its one trap (`kind`: "apply" or
// "construct"), whose handler has no prototype so that no other trap can be put in its way
// (Object.prototype.get = ... would otherwise be one).
function replace(owner, name, kind, trap) {
  var d = describe(owner, name);
  if (!d || typeof d.value !== "function") return;  // not in this engine
  if (kind === null) {
    // a bound function prints as native code and has no `this` of its own, which these calls
    // don't use; a call costs a third of a proxy's in QuickJS
    var native = d.value, bound = apply(bind, trap(native), [undefined]);
    define(bound, "name", {value: name, configurable: true});
    define(bound, "length", {value: native.length, configurable: true});
    d.value = bound;
  } else {
    var handler = create(null);
    handler[kind] = trap;
    d.value = new NativeProxy(d.value, handler);
  }
  define(owner, name, d);
}
function notingFirst(native) {  // a call whose first argument is the object it changes
  return ({f: function (o, a, b) {  // (a method: not a constructor, as the engine's are not)
    if (markOf(o) !== undefined && touches(o)) redefined = true;  // (most objects: one lookup)
    return native(o, a, b);
  }}).f;
}
function notingReceiver(native, self, args) {  // a call that changes its receiver
  if (!redefined && touches(self)) redefined = true;
  return apply(native, self, args);
}
replace(Object, "defineProperty", null, notingFirst);
replace(Object, "defineProperties", null, notingFirst);
replace(Reflect, "defineProperty", null, notingFirst);
replace(Error, "captureStackTrace", null, notingFirst);
replace(Object.prototype, "__defineGetter__", "apply", notingReceiver);
replace(Object.prototype, "__defineSetter__", "apply", notingReceiver);
// a proxy passes a definition on to its target: each proxy's target is remembered
replace(NativeProxy, "revocable", "apply", function (native, self, args) {
  var made = apply(native, self, args);
  mark(made.proxy, args[0]);
  return made;
});
replace(G, "Proxy", "construct", function (native, args, newTarget) {
  var made = construct(native, args, newTarget);
  mark(made, args[0]);
  return made;
});
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
// every prototype a watched object inherits from is watched too (a deleted key's inherited value
// is read there)
for (i = 0; i < watched.length; i++) {
  var up = protoOf(watched[i]);
  if (up !== null && watched.indexOf(up) < 0) watched.push(up);
}
watched.forEach(function (o) { mark(o, true); });
// Below, what runs after a render reaches no built-in a render could have changed: plain loops,
// the functions taken above, records and lists with no prototype.
// A property's descriptor as a record with no prototype, its fields read own only (the engine's
// descriptor has the four of its kind as its own): a `get` or `value` a render put on
// Object.prototype is not taken for one of them, nor seen by `define`, which reads a
// descriptor's fields through its prototype.
function descriptor(o, name) {
  var d = describe(o, name);
  if (d === undefined) return undefined;
  var r = create(null);
  if (hasOwn(d, "get")) { r.get = d.get; r.set = d.set; } else { r.value = d.value; r.writable = d.writable; }
  r.enumerable = d.enumerable;
  r.configurable = d.configurable;
  return r;
}
function inherited(o, name) {  // the descriptor a lookup of `name` finds above `o`
  for (var p = protoOf(o); p !== null; p = protoOf(p)) { var d = descriptor(p, name); if (d) return d; }
  return undefined;
}
// A list with no prototype (a setter a render put on Array.prototype for an index would
// otherwise take the writes).
function list(length) {
  var l = create(null);
  l.length = length;
  return l;
}
// `above`: the index in `watched` of the object's prototype (-1: none); `make`: `compiled` at the
// baseline, `interpreted` when a restore takes it again.
function snapshot(o, above, make) {
  var ks = keys(o), descs = list(ks.length);
  for (var k = 0; k < ks.length; k++) descs[k] = descriptor(o, ks[k]);
  var listed = create(null);  // (its keys, to look one up; no prototype a render could reach)
  for (k = 0; k < ks.length; k++) listed[ks[k]] = true;
  return {proto: protoOf(o), above: above, keys: ks, listed: listed, descs: descs, enumerable: enumerable(o),
          check: make(checks(o, ks, descs))};
}
// What tells whether a watched object is as it was, given that its enumerable keys, prototype
// and extensibility are and that no definition was noted (`unchanged`): each value that can
// change (read through no accessor: only `defineProperty` and `__defineGetter__` make one, and
// they are noted), each accessor the baseline's, and each key still own where deleting it would
// leave the same value to read (the prototype's) or an accessor. As steps: OWN, SAME (===), IS
// (Object.is, for 0 and NaN) or ACCESSOR, each with its key and what it compares with.
var OWN = 0, SAME = 1, IS = 2, ACCESSOR = 3;
function checks(o, ks, descs) {
  var steps = list(0);
  function step(kind, key, v) { steps[steps.length++] = kind; steps[steps.length++] = key; steps[steps.length++] = v; }
  for (var k = 0; k < ks.length; k++) {
    var d = descs[k], key = ks[k];
    if (!d.configurable && !d.writable) continue;  // it can't change: the engine keeps it so
    if (!d.enumerable && !d.writable) {
      // a getter or a read-only value: only a noted definition changes it, and any other write
      // (a class field, say) makes it enumerable; left is a `delete`
      step(OWN, key, undefined);
      continue;
    }
    if (d.get || d.set) {
      step(ACCESSOR, key, d);
      continue;
    }
    var above = d.configurable && inherited(o, key);
    if (above && (above.get || above.set || is(above.value, d.value))) step(OWN, key, undefined);
    step(typeof d.value === "number" && (d.value === 0 || d.value !== d.value) ? IS : SAME, key, d.value);
  }
  return steps;
}
// The steps as one function of its own, made at the baseline: the keys are constants in its code,
// so a read takes no key conversion. What it is worth is QuickJS's: Preact renders 6.8-7.1 ms with
// these, 7.3 ms with every object `interpreted` (React: the same); in V8 it makes no difference
// between renders (0.78-0.81 against 0.72-0.79 ms), only in a loop (17 us a check against 25).
function compiled(steps) {
  var code = "";
  for (var i = 0; i < steps.length; i += 3) {
    var key = typeof steps[i + 1] === "string" ? stringify(steps[i + 1]) : "s[" + (i + 1) + "]", with_ = "s[" + (i + 2) + "]";
    if (steps[i] === OWN) code += "if (!hasOwn(o, " + key + ")) return false;\n";
    else if (steps[i] === SAME) code += "if (o[" + key + "] !== " + with_ + ") return false;\n";
    else if (steps[i] === IS) code += "if (!is(o[" + key + "], " + with_ + ")) return false;\n";
    else code += "d = descriptor(o, " + key + "); if (!d || d.get !== " + with_ + ".get || d.set !== " + with_ + ".set) return false;\n";
  }
  return compile("descriptor", "hasOwn", "is", "s", "return function (o) { var d;\n" + code + "return true;\n};")(descriptor, hasOwn, is, steps);
}
// The same steps read in a loop: for an object a render keeps reordering (its baseline is taken
// again each time), where compiling its function every render took longer than this reading.
function interpreted(steps) {
  return function (o) {
    for (var i = 0; i < steps.length; i += 3) {
      var kind = steps[i], key = steps[i + 1], v = steps[i + 2], d;
      if (kind === OWN) { if (!hasOwn(o, key)) return false; }
      else if (kind === SAME) { if (o[key] !== v) return false; }
      else if (kind === IS) { if (!is(o[key], v)) return false; }
      else { d = descriptor(o, key); if (!d || d.get !== v.get || d.set !== v.set) return false; }
    }
    return true;
  };
}
var baseline;
function same(a, b) {
  return a.value === b.value && a.get === b.get && a.set === b.set && a.writable === b.writable
    && a.enumerable === b.enumerable && a.configurable === b.configurable;
}
function sameList(a, b) {
  if (a.length !== b.length) return false;
  for (var k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}
// Whether `watched[w]` looks as at the baseline: its prototype, extensibility and enumerable keys
// (`shaped`), then its values and the rest (its `check`). A key comes or goes, or its attributes
// change, unseen here only through the definitions that are noted (`redefined`) or `delete`
// (the checkers cover that, given that the prototypes above are unchanged too).
function shaped(w) {
  var o = watched[w], s = baseline[w];
  return extensible(o) && protoOf(o) === s.proto && sameList(enumerable(o), s.enumerable);
}
// Nothing watched changed: the common case, read cheaply. Measured in V8, over the 186 objects
// (1,375 keys) a context watches, called in a loop: 17 us, where listing and comparing every
// object's own keys as well took 90 (QuickJS: 126 us against 250). Between renders it takes
// 0.1-0.15 ms in V8: reading that many objects' memory after a render is the cost. The
// shape of every object first, so no value is read from an object whose keys changed.
function unchanged() {
  if (redefined) return false;
  var w;
  for (w = 0; w < watched.length; w++) if (!shaped(w)) return false;
  for (w = 0; w < watched.length; w++) if (!baseline[w].check(watched[w])) return false;
  return true;
}
// Whether `watched[w]` is as at its baseline, given which objects look so (`looks`): it is, if it
// looks so and so do the prototypes above it (a deleted key would read theirs), or if it looks so
// and its own keys are the baseline's.
function intact(w, looks) {
  if (!looks[w]) return false;
  for (var up = baseline[w].above; up >= 0; up = baseline[up].above) {
    if (!looks[up]) return sameList(keys(watched[w]), baseline[w].keys);
  }
  return true;
}
// Put `watched[w]` back, compared in full; false when something could not be undone.
function putBack(w) {
  var o = watched[w], s = baseline[w], now = keys(o), k, d;
  var undone = extensible(o) && protoOf(o) === s.proto;
  for (k = 0; k < now.length; k++) {
    if (s.listed[now[k]] !== true && !remove(o, now[k])) undone = false;
  }
  for (k = 0; k < s.keys.length; k++) {
    d = descriptor(o, s.keys[k]);
    if (!d || !same(d, s.descs[k])) { try { define(o, s.keys[k], s.descs[k]); } catch (e) { undone = false; } }
  }
  // as at the baseline but perhaps in another key order (a key deleted and defined again): then
  // its baseline is taken again, or every later check would find it changed
  if (undone && !sameList(keys(o), s.keys)) baseline[w] = snapshot(o, s.above, interpreted);
  return undone;
}
// Put back what changed; false when something could not be undone. Every object is compared in
// full after a noted definition. (Small functions: on renders that change built-ins each time,
// V8 throws away the optimized code of what runs here and makes it again every render, which for
// the one large function this was cost more than the restoring: a small render that changes five
// built-ins took 1.6-1.7 ms with it, 0.47-0.49 ms split (0.66-0.68 with descriptors read as
// records), and 1.3-1.4 ms with the check before.)
function restore() {
  var looks = list(watched.length), clean = true, w;
  for (w = 0; w < watched.length; w++) looks[w] = !redefined && shaped(w);
  for (w = 0; w < watched.length; w++) looks[w] = looks[w] && baseline[w].check(watched[w]);
  for (w = 0; w < watched.length; w++) if (!intact(w, looks) && !putBack(w)) clean = false;
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
  if (!unchanged() && !restore()) return "2";
  redefined = false;
  logs = [];
  var html = exported(registry()(cfg.module))(JSON.parse(propsJson));
  if (typeof html !== "string") throw new TypeError("the render function returned " + typeof html + ", not a string");
  // String() makes one flat string: QuickJS can't hand a concatenation (a rope) to Python
  return String(logs.length ? "1" + JSON.stringify(logs) + "\n" + html : "0" + html);
}});
baseline = watched.map(function (o) { return snapshot(o, watched.indexOf(protoOf(o)), compiled); });
redefined = false;
})(globalThis, __MENDEL_CONFIG__);
