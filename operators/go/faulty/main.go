// Command faulty is a Go operator that fails on purpose in `process`, as
// its config says: {"how": "panic" | "endless-loop" | "memory-bomb" | "error"}.
// The tests use it to show that a Go operator is contained like any other:
// the job fails with a message naming the operator, subtask and call, and
// the host survives.
//
// Built by `guestc go` into target/operators/go-faulty.wasm.
package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"cairn"
)

type faulty struct {
	cairn.Stateless
	how string
}

func main() {}

func init() {
	cairn.Export(func(config string) (cairn.Operator, error) {
		var c struct{ How string }
		if err := json.Unmarshal([]byte(config), &c); err != nil {
			return nil, fmt.Errorf("invalid config: %v", err)
		}
		switch c.How {
		case "panic", "endless-loop", "memory-bomb", "error":
			return &faulty{how: c.How}, nil
		}
		return nil, fmt.Errorf("invalid config: unknown `how` %q", c.How)
	})
}

// hoard keeps what the memory bomb allocates reachable.
var hoard [][]byte

func (f *faulty) Process(*cairn.Batch) (*cairn.Batch, error) {
	switch f.how {
	case "panic":
		panic("faulty: a panic in process")
	case "endless-loop":
		for n := 0; ; n++ {
			hoard = hoard[:0] // something for the loop to do
		}
	case "memory-bomb":
		for {
			chunk := make([]byte, 1<<20)
			chunk[0] = 1
			hoard = append(hoard, chunk)
		}
	}
	return nil, errors.New("faulty: an error from process")
}
