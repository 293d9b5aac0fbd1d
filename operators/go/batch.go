package cairn

import "iter"

// Batch is a batch of events as it crosses the boundary: columns, not a list
// of events. Event i has key Keys[KeyEnds[i-1]:KeyEnds[i]] (KeyEnds[-1] = 0)
// unless i is listed in Keyless (then it has no key and its key range is
// empty), value Values[ValueEnds[i-1]:ValueEnds[i]] and event time
// Timestamps[i] (ms since the Unix epoch). KeyEnds, ValueEnds and Timestamps
// have one entry per event; Keyless is ascending.
type Batch struct {
	Keys       []byte
	KeyEnds    []uint32
	Values     []byte
	ValueEnds  []uint32
	Timestamps []int64
	Keyless    []uint32
}

// Event is one event of a batch. Its slices point into the batch.
type Event struct {
	// Key is the key's bytes (empty when Keyless).
	Key []byte
	// Keyless is true for an event without a key (not the same as an empty key).
	Keyless bool
	// Value is the value's bytes.
	Value []byte
	// Timestamp is the event time, ms since the Unix epoch.
	Timestamp int64
}

// Len is the number of events.
func (b *Batch) Len() int { return len(b.Timestamps) }

// All yields each event with its index, in order.
func (b *Batch) All() iter.Seq2[int, Event] {
	return func(yield func(int, Event) bool) {
		var keyAt, valueAt uint32
		keyless := 0
		for i := range b.Timestamps {
			keyEnd, valueEnd := b.KeyEnds[i], b.ValueEnds[i]
			e := Event{Key: b.Keys[keyAt:keyEnd], Value: b.Values[valueAt:valueEnd], Timestamp: b.Timestamps[i]}
			if keyless < len(b.Keyless) && b.Keyless[keyless] == uint32(i) {
				e.Keyless = true
				keyless++
			}
			keyAt, valueAt = keyEnd, valueEnd
			if !yield(i, e) {
				return
			}
		}
	}
}

// Emit appends one event to the batch (an output being built).
func (b *Batch) Emit(e Event) {
	if e.Keyless {
		b.Keyless = append(b.Keyless, uint32(len(b.Timestamps)))
	} else {
		b.Keys = append(b.Keys, e.Key...)
	}
	b.Values = append(b.Values, e.Value...)
	b.KeyEnds = append(b.KeyEnds, uint32(len(b.Keys)))
	b.ValueEnds = append(b.ValueEnds, uint32(len(b.Values)))
	b.Timestamps = append(b.Timestamps, e.Timestamp)
}
