// Bench variant (BENCHMARKS.md, "componentize-js --aot (weval)"): count-int-ops.js with
// count-warmed.js's warm-up instead of the one-call one. Not an operator of this repository.

// `count` in JavaScript: running count of events per key.
//
// The same operator as the Rust `operators/guests/count`: for each input event,
// increments its key's count (keyless events count under the empty key) and
// emits an event with the same key (or none) and timestamp whose value is the
// new count in decimal ASCII. No config.
//
// State: the counts, format "postcard", version 1 -- the byte layout of the
// Rust counter's `KeyedState<u64>` (a varint entry count, then per key in
// ascending byte order: varint key length, key bytes, varint count), so a
// checkpoint of either restores into the other.
//
// Built by `guestc js` (componentize-js) into target/operators/js-count.wasm.

import { log } from 'cairn:operator/log@0.1.0';

const FORMAT = 'postcard';
const STATE_VERSION = 1;

/** Counts by key; a key's bytes are held as a string of char codes 0..255. */
let counts = new Map();
/** Snapshot bytes not read yet. */
let pending = new Uint8Array(0);
/** The restore in progress: { size, chunks, length }, or null. */
let restoring = null;

const encoder = new TextEncoder();

/** Key bytes -> the Map key (one char per byte, so any bytes round-trip). */
function keyString(bytes, start, end) {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** Appends `n` (a non-negative integer) as a LEB128 varint. */
function pushVarint(out, n) {
  let v = BigInt(n);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

/** Reads a varint at `pos`: [value, next position]. */
function readVarint(buf, pos) {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw 'truncated varint';
    const b = buf[pos++];
    v |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return [v, pos];
    shift += 7n;
    if (shift > 63n) throw 'varint too long';
  }
}

/** The counts in the Rust counter's snapshot layout (keys in byte order). */
function encodeCounts() {
  const out = [];
  pushVarint(out, counts.size);
  // Char codes are the bytes, so comparing strings compares the bytes.
  const keys = [...counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const k of keys) {
    pushVarint(out, k.length);
    for (let i = 0; i < k.length; i++) out.push(k.charCodeAt(i));
    pushVarint(out, counts.get(k));
  }
  return Uint8Array.from(out);
}

/** Inverse of `encodeCounts`; every byte must be used. */
function decodeCounts(buf) {
  const map = new Map();
  let [n, pos] = readVarint(buf, 0);
  for (let e = 0n; e < n; e++) {
    let len;
    [len, pos] = readVarint(buf, pos);
    const end = pos + Number(len);
    if (end > buf.length) throw 'truncated key';
    const key = keyString(buf, pos, end);
    let count;
    [count, pos] = readVarint(buf, end);
    map.set(key, Number(count));
  }
  if (pos !== buf.length) throw `${buf.length - pos} bytes left over after the state`;
  return map;
}

let sink = 0;
function addOne(x) { return (x + 1) | 0; }

function emptyBatch() {
  return {
    keys: new Uint8Array(0),
    keyEnds: new Uint32Array(0),
    values: new Uint8Array(0),
    valueEnds: new Uint32Array(0),
    timestamps: new BigInt64Array(0),
    keyless: new Uint32Array(0),
  };
}

export const operator = {
  init(config) {
    if (config.trim() !== '' && config.trim() !== 'null') {
      throw `invalid config: count takes none, got ${config}`;
    }
    log('debug', 'js count ready');
  },

  process(input) {
    if (restoring !== null) throw 'process called while a restore is in progress';
    const { keys, keyEnds } = input;
    const n = keyEnds.length;
    const valueEnds = new Uint32Array(n);
    let text = '';
    let start = 0;
    for (let i = 0; i < n; i++) {
      const end = keyEnds[i];
      const k = keyString(keys, start, end);
      start = end;
      const c = (counts.get(k) ?? 0) + 1;
      counts.set(k, c);
      text += c; // decimal ASCII
      { let x = 0; for (let j = 0; j < 100; j++) x = (x + j * 3) | 0; sink = x; }
      valueEnds[i] = text.length;
    }
    // Keys, their ends, timestamps and keyless events are the input's.
    return {
      keys,
      keyEnds,
      values: encoder.encode(text),
      valueEnds,
      timestamps: input.timestamps,
      keyless: input.keyless,
    };
  },

  onWatermark(ts) {
    return emptyBatch();
  },

  snapshot() {
    pending = encodeCounts();
    return { format: FORMAT, version: STATE_VERSION, size: BigInt(pending.length) };
  },

  snapshotRead(maxLen) {
    const piece = pending.slice(0, maxLen);
    pending = pending.slice(piece.length);
    return piece;
  },

  restore(info) {
    if (info.format !== FORMAT) {
      throw `cannot restore state in format "${info.format}": count reads "${FORMAT}" only`;
    }
    if (info.version !== STATE_VERSION) {
      throw `cannot restore state version ${info.version}: count reads version ${STATE_VERSION} only`;
    }
    restoring = { size: Number(info.size), chunks: [], length: 0 };
  },

  restoreWrite(bytes) {
    if (restoring === null) throw 'restore-write without restore';
    if (restoring.length + bytes.length > restoring.size) {
      const size = restoring.size;
      restoring = null;
      throw `restore-write: more bytes than the ${size} announced`;
    }
    restoring.chunks.push(bytes.slice());
    restoring.length += bytes.length;
  },

  restoreFinish() {
    if (restoring === null) throw 'restore-finish without restore';
    const { size, chunks, length } = restoring;
    restoring = null;
    if (length !== size) throw `restore-finish: ${length} bytes written but the state has ${size} bytes`;
    const buf = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      buf.set(c, at);
      at += c.length;
    }
    try {
      counts = decodeCounts(buf);
    } catch (e) {
      throw `state version ${STATE_VERSION}: cannot decode state: ${e}`;
    }
    log('info', `js count restored ${counts.size} keys`);
  },
};


// Warm-up during the build's initialization: runs process on generated batches so that its
// inline caches exist in the snapshot, then forgets the counts.
{
  const enc = new TextEncoder();
  for (let round = 0; round < 50; round++) {
    let text = '';
    const keyEnds = new Uint32Array(1024);
    for (let i = 0; i < 1024; i++) { text += 'k' + ((i * 7919 + round) % 1000); keyEnds[i] = text.length; }
    operator.process({ keys: enc.encode(text), keyEnds, values: new Uint8Array(0), valueEnds: new Uint32Array(1024),
                       timestamps: new BigInt64Array(1024), keyless: new Uint32Array(0) });
  }
  counts = new Map();
}
