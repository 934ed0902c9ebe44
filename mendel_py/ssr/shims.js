// The sandbox's web globals (see mendel_py/ssr/script.py): evaluated after a tree's modules are
// defined, before the runtime.
(function (G) {
"use strict";
// Web globals a server renderer needs, each installed only where the engine lacks it.
function define(name, value) {
  // mini-racer's own timers are non-configurable but writable: those are replaced by assignment
  try { Object.defineProperty(G, name, {value: value, writable: true, configurable: true, enumerable: false}); }
  catch (e) { G[name] = value; }
}
// TextEncoder / TextDecoder: UTF-8 only (React's server build makes an encoder when it loads).
function TextEncoder() {}
TextEncoder.prototype.encoding = "utf-8";
function utf8(s, out) {
  var n = 0;
  for (var i = 0; i < s.length; i++) {
    var c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xe000) {
      var d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c < 0xdc00 && d >= 0xdc00 && d < 0xe000) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
      else c = 0xfffd;
    }
    if (c < 0x80) out[n++] = c;
    else if (c < 0x800) { out[n++] = 0xc0 | (c >> 6); out[n++] = 0x80 | (c & 63); }
    else if (c < 0x10000) { out[n++] = 0xe0 | (c >> 12); out[n++] = 0x80 | ((c >> 6) & 63); out[n++] = 0x80 | (c & 63); }
    else {
      out[n++] = 0xf0 | (c >> 18); out[n++] = 0x80 | ((c >> 12) & 63);
      out[n++] = 0x80 | ((c >> 6) & 63); out[n++] = 0x80 | (c & 63);
    }
  }
  return n;
}
TextEncoder.prototype.encode = function (s) {
  s = s === undefined ? "" : String(s);
  var out = new Uint8Array(s.length * 3);
  return out.slice(0, utf8(s, out));
};
TextEncoder.prototype.encodeInto = function (s, dest) {
  s = String(s);
  var out = new Uint8Array(s.length * 3), n = utf8(s, out), written = Math.min(n, dest.length);
  // never split a character: step back to the start of the last one that fits
  if (written < n) while (written > 0 && (out[written] & 0xc0) === 0x80) written--;
  dest.set(out.subarray(0, written));
  var read = 0, bytes = 0;
  while (read < s.length && bytes < written) {
    var c = s.codePointAt(read);
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    read += c >= 0x10000 ? 2 : 1;
  }
  return {read: read, written: written};
};
function TextDecoder(label) {
  if (label !== undefined && !/^utf-?8$/i.test(String(label))) throw new RangeError("only UTF-8 is supported");
  this.pending = [];
}
TextDecoder.prototype.encoding = "utf-8";
TextDecoder.prototype.decode = function (input, options) {
  var bytes = input === undefined ? new Uint8Array(0)
    : input instanceof ArrayBuffer ? new Uint8Array(input)
    : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  var all = this.pending.concat(Array.prototype.slice.call(bytes)), out = [], i = 0, stream = options && options.stream;
  this.pending = [];
  while (i < all.length) {
    var b = all[i], need = b < 0x80 ? 0 : b >= 0xf0 && b < 0xf8 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : -1;
    if (need < 0) { out.push(0xfffd); i++; continue; }
    if (i + need >= all.length && need > 0 && stream) { this.pending = all.slice(i); break; }
    var c = need ? b & (0x3f >> need) : b, ok = true;
    for (var k = 1; k <= need; k++) {
      var x = all[i + k];
      if (x === undefined || (x & 0xc0) !== 0x80) { ok = false; break; }
      c = (c << 6) | (x & 0x3f);
    }
    if (!ok) { out.push(0xfffd); i++; continue; }
    out.push(c); i += need + 1;
  }
  var s = "";
  for (var j = 0; j < out.length; j += 4096) s += String.fromCodePoint.apply(null, out.slice(j, j + 4096));
  return s;
};
// Timers and MessageChannel: accepted, never run (a render is synchronous; whatever it schedules
// is dropped with it, so nothing runs in the next render).
var nextTimer = 1;
function setTimeout() { return nextTimer++; }
function clearTimeout() {}
function MessagePort() { this.onmessage = null; }
MessagePort.prototype.postMessage = function () {};
MessagePort.prototype.start = MessagePort.prototype.close = function () {};
MessagePort.prototype.addEventListener = MessagePort.prototype.removeEventListener = function () {};
function MessageChannel() { this.port1 = new MessagePort(); this.port2 = new MessagePort(); }
if (typeof G.TextEncoder === "undefined") define("TextEncoder", TextEncoder);
if (typeof G.TextDecoder === "undefined") define("TextDecoder", TextDecoder);
if (typeof G.queueMicrotask === "undefined") define("queueMicrotask", function (f) { Promise.resolve().then(f); });
if (typeof G.MessageChannel === "undefined") define("MessageChannel", MessageChannel);
// the engines' own timers (mini-racer's fire later, from its own threads) are replaced
define("setTimeout", setTimeout);
define("clearTimeout", clearTimeout);
define("setInterval", setTimeout);
define("clearInterval", clearTimeout);
// host additions that one engine has and the other lacks go, so both sandboxes are the same
["__timer_manager", "WebAssembly", "print"].forEach(function (name) { if (!Reflect.deleteProperty(G, name)) G[name] = undefined; });
})(globalThis);
