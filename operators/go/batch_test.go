package cairn

import (
	"slices"
	"testing"
)

func TestEmitAndAllRoundTrip(t *testing.T) {
	events := []Event{
		{Key: []byte("a"), Value: []byte("x"), Timestamp: 1},
		{Keyless: true, Value: []byte("no key"), Timestamp: 2},
		{Key: []byte{}, Value: []byte{}, Timestamp: 3},
		{Key: []byte("ünï"), Value: []byte("yz"), Timestamp: 4},
	}
	b := &Batch{}
	for _, e := range events {
		b.Emit(e)
	}
	if b.Len() != len(events) || !slices.Equal(b.Keyless, []uint32{1}) {
		t.Fatalf("batch %+v", b)
	}
	for i, e := range b.All() {
		want := events[i]
		if string(e.Key) != string(want.Key) || e.Keyless != want.Keyless || string(e.Value) != string(want.Value) || e.Timestamp != want.Timestamp {
			t.Errorf("event %d: %+v, want %+v", i, e, want)
		}
	}
}
