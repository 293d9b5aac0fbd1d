"""Floors of `process` in Python (benches/floors.rs): empty, echo and the
keyed counter, on 0.1.0's batch and on one with byte integer columns."""

from array import array
from itertools import accumulate

from wit_world import exports
from wit_world.imports.types import Batch, Bbatch

_counts = {}
_counts_b = {}
_counts_f = {}


class Floor(exports.Floor):
    def empty(self, input):
        return Batch(b"", [], b"", [], [], [])

    def echo(self, input):
        return input

    def count(self, input):
        # operators/python/count/app.py before issue 12.
        keys, key_ends, ts = input.keys, input.key_ends, input.timestamps
        counts = _counts
        values = bytearray()
        value_ends = []
        start = 0
        for i, end in enumerate(key_ends):
            key = keys[start:end]
            start = end
            n = counts.get(key, 0) + 1
            counts[key] = n
            values += str(n).encode()
            value_ends.append(len(values))
        return Batch(keys, list(key_ends), bytes(values), value_ends, list(ts), list(input.keyless))

    def empty_b(self, input):
        return Bbatch(b"", b"", b"", b"", b"", b"")

    def echo_b(self, input):
        return input

    def count_b(self, input):
        keys = input.keys
        counts = _counts_b
        get = counts.get
        texts = []
        append = texts.append
        start = 0
        for end in memoryview(input.key_ends).cast("I"):
            key = keys[start:end]
            start = end
            n = get(key, 0) + 1
            counts[key] = n
            append(str(n))
        values = "".join(texts).encode()
        value_ends = array("I", accumulate(map(len, texts))).tobytes()
        return Bbatch(keys, input.key_ends, values, value_ends, input.timestamps, input.keyless)

    def count_b2(self, input):
        # Keys sliced by built-ins (map over slices), the loop only counts.
        keys = input.keys
        ends = memoryview(input.key_ends).cast("I")
        starts = [0]
        starts += ends[:-1]
        ks = map(keys.__getitem__, map(slice, starts, ends))
        counts = _counts_f
        get = counts.get
        ns = []
        append = ns.append
        for key in ks:
            n = get(key, 0) + 1
            counts[key] = n
            append(n)
        texts = list(map(str, ns))
        values = "".join(texts).encode()
        value_ends = array("I", accumulate(map(len, texts))).tobytes()
        return Bbatch(keys, input.key_ends, values, value_ends, input.timestamps, input.keyless)
