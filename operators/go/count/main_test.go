package main

import (
	"bytes"
	"testing"

	"cairn"
)

// The Rust counter's state (postcard KeyedState<u64>) for {"": 2, "a": 3, "b": 1}.
var rustState = []byte{3, 0, 2, 1, 'a', 3, 1, 'b', 1}

func TestSnapshotIsTheRustCountersFormat(t *testing.T) {
	c := &count{counts: map[string]uint64{"b": 1, "a": 3, "": 2}}
	s, err := c.Snapshot()
	if err != nil || s.Format != "postcard" || s.Version != 1 || !bytes.Equal(s.Bytes, rustState) {
		t.Fatalf("snapshot %+v, %v", s, err)
	}
}

func TestRestoreReadsItAndRejectsBadStates(t *testing.T) {
	c := &count{counts: map[string]uint64{}}
	if err := c.Restore(cairn.State{Format: "postcard", Version: 1, Bytes: rustState}); err != nil || c.counts["a"] != 3 || len(c.counts) != 3 {
		t.Fatalf("restore: %v, %v", c.counts, err)
	}
	for _, bad := range [][]byte{{}, {1}, {1, 5, 'a'}, {1, 1, 'a'}, append(append([]byte{}, rustState...), 0)} {
		if err := c.Restore(cairn.State{Bytes: bad}); err == nil {
			t.Errorf("%v was accepted", bad)
		}
	}
	if c.counts["a"] != 3 {
		t.Error("a bad state replaced the counts")
	}
	if err := c.BeginRestore("json", 1, 0); err == nil {
		t.Error("format json was accepted")
	}
	if err := c.BeginRestore("postcard", 2, 0); err == nil {
		t.Error("version 2 was accepted")
	}
}
