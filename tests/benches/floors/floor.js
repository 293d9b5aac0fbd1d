// Floors of `process` in JavaScript (benches/floors.rs): empty, echo and the
// keyed counter, on 0.1.0's batch and on one with byte integer columns.

const encoder = new TextEncoder();
const countsA = new Map();
const countsB = new Map();
const countsO = Object.create(null);

function keyString(bytes, start, end) {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

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

export const floor = {
  empty(input) {
    return emptyBatch();
  },
  echo(input) {
    return input;
  },
  count(input) {
    // operators/js/count.js before issue 12.
    const { keys, keyEnds } = input;
    const n = keyEnds.length;
    const valueEnds = new Uint32Array(n);
    let text = '';
    let start = 0;
    for (let i = 0; i < n; i++) {
      const end = keyEnds[i];
      const k = keyString(keys, start, end);
      start = end;
      const c = (countsA.get(k) ?? 0) + 1;
      countsA.set(k, c);
      text += c;
      valueEnds[i] = text.length;
    }
    return { keys, keyEnds, values: encoder.encode(text), valueEnds, timestamps: input.timestamps, keyless: input.keyless };
  },
  emptyB(input) {
    const e = new Uint8Array(0);
    return { keys: e, keyEnds: e, values: e, valueEnds: e, timestamps: e, keyless: e };
  },
  echoB(input) {
    return input;
  },
  countB(input) {
    const { keys } = input;
    const ends = new Uint32Array(input.keyEnds.buffer, input.keyEnds.byteOffset, input.keyEnds.length >> 2);
    const n = ends.length;
    const valueEnds = new Uint32Array(n);
    const all = String.fromCharCode.apply(null, keys);
    let text = '';
    let start = 0;
    for (let i = 0; i < n; i++) {
      const end = ends[i];
      const k = all.substring(start, end);
      start = end;
      const c = (countsB.get(k) ?? 0) + 1;
      countsB.set(k, c);
      text += c;
      valueEnds[i] = text.length;
    }
    return {
      keys,
      keyEnds: input.keyEnds,
      values: encoder.encode(text),
      valueEnds: new Uint8Array(valueEnds.buffer),
      timestamps: input.timestamps,
      keyless: input.keyless,
    };
  },
  countB2(input) {
    const { keys } = input;
    const ends = new Uint32Array(input.keyEnds.buffer, input.keyEnds.byteOffset, input.keyEnds.length >> 2);
    const n = ends.length;
    const valueEnds = new Uint32Array(n);
    let all = '';
    for (let i = 0; i < keys.length; i += 8192) all += String.fromCharCode.apply(null, keys.subarray(i, i + 8192));
    let text = '';
    let start = 0;
    for (let i = 0; i < n; i++) {
      const end = ends[i];
      const k = all.substring(start, end);
      start = end;
      const c = (countsO[k] ?? 0) + 1;
      countsO[k] = c;
      text += c;
      valueEnds[i] = text.length;
    }
    return {
      keys,
      keyEnds: input.keyEnds,
      values: encoder.encode(text),
      valueEnds: new Uint8Array(valueEnds.buffer),
      timestamps: input.timestamps,
      keyless: input.keyless,
    };
  },
};
