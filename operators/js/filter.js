// `filter` in JavaScript: keeps the events whose value contains a substring.
//
// The same operator as the Rust `operators/guests/filter`. Config:
// {"contains": "<substring>", "invert": false} (`contains` required; `invert`
// optional, default false, keeps the events that do *not* contain it).
// Matching is on bytes. Events pass through unchanged. Stateless.
//
// Built by `guestc js` (componentize-js) into target/operators/js-filter.wasm.

let needle = new Uint8Array(0);
let invert = false;

/** Whether `needle` occurs in `hay[start..end)`. */
function contains(hay, start, end) {
  const n = needle.length;
  outer: for (let i = start; i + n <= end; i++) {
    for (let j = 0; j < n; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}

export const operator = {
  init(config) {
    let cfg;
    try {
      cfg = config.trim() === '' ? null : JSON.parse(config);
    } catch (e) {
      throw `invalid config: ${e}`;
    }
    if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) {
      throw 'invalid config: expected an object with `contains`';
    }
    for (const k of Object.keys(cfg)) {
      if (k !== 'contains' && k !== 'invert') throw `invalid config: unknown field \`${k}\``;
    }
    if (typeof cfg.contains !== 'string') throw 'invalid config: missing field `contains` (a string)';
    if (cfg.invert !== undefined && typeof cfg.invert !== 'boolean') {
      throw 'invalid config: `invert` must be true or false';
    }
    needle = new TextEncoder().encode(cfg.contains);
    invert = cfg.invert === true;
  },

  process(input) {
    const { keys, keyEnds, values, valueEnds, timestamps } = input;
    const keyless = new Set(input.keyless);
    const keep = [];
    let valueStart = 0;
    for (let i = 0; i < valueEnds.length; i++) {
      if (contains(values, valueStart, valueEnds[i]) !== invert) keep.push(i);
      valueStart = valueEnds[i];
    }
    const n = keep.length;
    const out = {
      keys: null,
      keyEnds: new Uint32Array(n),
      values: null,
      valueEnds: new Uint32Array(n),
      timestamps: new BigInt64Array(n),
      keyless: [],
    };
    const outKeys = [];
    const outValues = [];
    let keyLen = 0;
    let valueLen = 0;
    keep.forEach((i, o) => {
      const ks = i === 0 ? 0 : keyEnds[i - 1];
      const vs = i === 0 ? 0 : valueEnds[i - 1];
      outKeys.push(keys.subarray(ks, keyEnds[i]));
      outValues.push(values.subarray(vs, valueEnds[i]));
      keyLen += keyEnds[i] - ks;
      valueLen += valueEnds[i] - vs;
      out.keyEnds[o] = keyLen;
      out.valueEnds[o] = valueLen;
      out.timestamps[o] = timestamps[i];
      if (keyless.has(i)) out.keyless.push(o);
    });
    out.keys = concat(outKeys, keyLen);
    out.values = concat(outValues, valueLen);
    out.keyless = Uint32Array.from(out.keyless);
    return out;
  },

  onWatermark(ts) {
    return {
      keys: new Uint8Array(0),
      keyEnds: new Uint32Array(0),
      values: new Uint8Array(0),
      valueEnds: new Uint32Array(0),
      timestamps: new BigInt64Array(0),
      keyless: new Uint32Array(0),
    };
  },

  // Stateless: postcard of "no state" is zero bytes, as with the Rust filter.
  snapshot() {
    return { format: 'postcard', version: 1, size: 0n };
  },

  snapshotRead(maxLen) {
    return new Uint8Array(0);
  },

  restore(info) {
    if (info.size !== 0n) throw `filter is stateless but was handed ${info.size} bytes of state`;
  },

  restoreWrite(bytes) {
    if (bytes.length !== 0) throw 'filter is stateless';
  },

  restoreFinish() {},
};

function concat(parts, len) {
  const out = new Uint8Array(len);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
