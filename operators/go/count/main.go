// Command count is `count` in Go: the running count of events per key.
//
// The same operator as the Rust `operators/guests/count`: for each input
// event it increments its key's count (keyless events count under the empty
// key) and emits an event with the same key (or none) and timestamp whose
// value is the new count in decimal ASCII. No config.
//
// State: the counts, format "postcard", version 1 -- the byte layout of the
// Rust counter's `KeyedState<u64>` (a varint entry count, then per key in
// ascending byte order: varint key length, key bytes, varint count; LEB128
// varints, which is what encoding/binary's Uvarint reads and writes), so a
// checkpoint of either restores into the other.
//
// Built by `guestc go` into target/operators/go-count.wasm.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"cairn"
)

const (
	format       = "postcard"
	stateVersion = 1
)

// count is the operator: counts by key (the key's bytes as a string).
type count struct {
	counts map[string]uint64
}

func main() {}

func init() {
	cairn.Export(func(config string) (cairn.Operator, error) {
		if c := strings.TrimSpace(config); c != "" && c != "null" {
			return nil, errors.New("invalid config: count takes none")
		}
		cairn.Log(cairn.Debug, "go count ready")
		return &count{counts: map[string]uint64{}}, nil
	})
}

func (c *count) Process(in *cairn.Batch) (*cairn.Batch, error) {
	n := in.Len()
	values := make([]byte, 0, n*4)
	ends := make([]uint32, n)
	var start uint32
	for i, end := range in.KeyEnds {
		key := in.Keys[start:end]
		start = end
		v := c.counts[string(key)] + 1 // no allocation for the lookup
		c.counts[string(key)] = v
		values = strconv.AppendUint(values, v, 10)
		ends[i] = uint32(len(values))
	}
	// One output event per input event, with its key, timestamp and keyless-ness.
	return &cairn.Batch{Keys: in.Keys, KeyEnds: in.KeyEnds, Values: values, ValueEnds: ends, Timestamps: in.Timestamps, Keyless: in.Keyless}, nil
}

func (c *count) OnWatermark(int64) (*cairn.Batch, error) { return nil, nil }

func (c *count) Snapshot() (cairn.State, error) {
	keys := make([]string, 0, len(c.counts))
	for k := range c.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys) // Go compares strings bytewise: the Rust counter's key order
	b := binary.AppendUvarint(nil, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, c.counts[k])
	}
	return cairn.State{Format: format, Version: stateVersion, Bytes: b}, nil
}

func (c *count) BeginRestore(f string, version uint32, _ uint64) error {
	if f != format {
		return fmt.Errorf("cannot restore state in format %q: count reads %q only", f, format)
	}
	if version != stateVersion {
		return fmt.Errorf("cannot restore state version %d: count reads version %d only", version, stateVersion)
	}
	return nil
}

func (c *count) Restore(s cairn.State) error {
	counts, err := decode(s.Bytes)
	if err != nil {
		return fmt.Errorf("state version %d: cannot decode state: %w", stateVersion, err)
	}
	c.counts = counts // a bad state leaves the current counts as they were
	cairn.Log(cairn.Info, fmt.Sprintf("go count restored %d keys", len(counts)))
	return nil
}

// decode reads the state layout written by Snapshot.
func decode(b []byte) (map[string]uint64, error) {
	varint := func(what string) (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errors.New("truncated " + what)
		}
		b = b[n:]
		return v, nil
	}
	n, err := varint("entry count")
	if err != nil {
		return nil, err
	}
	counts := make(map[string]uint64, min(n, uint64(len(b))))
	for range n {
		klen, err := varint("key")
		if err != nil {
			return nil, err
		}
		if klen > uint64(len(b)) {
			return nil, errors.New("truncated key")
		}
		key := string(b[:klen])
		b = b[klen:]
		v, err := varint("count")
		if err != nil {
			return nil, err
		}
		counts[key] = v
	}
	if len(b) != 0 {
		return nil, errors.New("bytes left over after the state")
	}
	return counts, nil
}
