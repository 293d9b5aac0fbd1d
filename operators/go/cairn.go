// Package cairn writes Cairn operators in Go: implement [Operator], call
// [Export] from an init function of package main, and build with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o core.wasm .
//
// then make a component of core.wasm (`guestc go`, see docs/operators-go.md).
//
// The package holds the canonical-ABI glue of the `cairn:operator@0.1.0`
// world (wit/operator.wit) for mainline Go: the `//go:wasmexport` functions
// the host calls, `cabi_realloc`, and the `log` import. Batches arrive as
// columns ([Batch]); state crosses the boundary in pieces, which this package
// assembles, so an operator sees its state as one byte slice.
package cairn

import "fmt"

// Operator is what a Go operator implements. The host creates one instance
// per subtask, calls the constructor given to [Export] once with the config,
// then Process per batch, OnWatermark as event time advances, Snapshot at
// checkpoints, and BeginRestore and Restore on recovery. An error fails the
// subtask; the host reports its text with the operator id, subtask and call.
// Embed [Stateless] for the defaults of an operator without state.
type Operator interface {
	// Process takes one batch and returns the events to emit (nil: none).
	// The input's slices stay valid after the call, so the output may reuse
	// them.
	Process(in *Batch) (*Batch, error)
	// OnWatermark says that event time has passed ts (ms since the Unix
	// epoch); window operators emit here. The end of bounded input is
	// math.MaxInt64.
	OnWatermark(ts int64) (*Batch, error)
	// Snapshot returns the state's bytes and what they are.
	Snapshot() (State, error)
	// BeginRestore is called before the bytes of a state arrive: reject a
	// format or version that Restore cannot read, or a size it will not take.
	BeginRestore(format string, version uint32, size uint64) error
	// Restore decodes and installs a state (all its bytes, in one slice).
	Restore(state State) error
}

// State is an operator's state: its bytes, the name of their encoding and
// the version of the operator's state schema.
type State struct {
	// Format names the encoding, for example "postcard" or "json".
	Format string
	// Version is the operator's state schema version.
	Version uint32
	// Bytes is the state.
	Bytes []byte
}

// New makes an operator from the pipeline's `config` block as JSON text
// ("null" when there is none).
type New func(config string) (Operator, error)

// registered is the constructor given to Export.
var registered New

// Export makes newOperator the operator of this component. Call it from an
// init function of package main (a component has no main: the Go runtime
// starts in `_initialize`, which runs package initialisation only).
func Export(newOperator New) {
	registered = newOperator
}

// Stateless gives an operator without state the methods it does not need:
// no output on watermarks, an empty snapshot (format "postcard", version 1,
// zero bytes: postcard's encoding of no state, what the other languages'
// stateless operators write), and a restore that accepts only that.
type Stateless struct{}

// OnWatermark emits nothing.
func (Stateless) OnWatermark(int64) (*Batch, error) { return nil, nil }

// Snapshot returns zero bytes.
func (Stateless) Snapshot() (State, error) { return State{Format: "postcard", Version: 1}, nil }

// BeginRestore accepts an empty state only.
func (Stateless) BeginRestore(_ string, _ uint32, size uint64) error {
	if size != 0 {
		return fmt.Errorf("the operator is stateless but was handed %d bytes of state", size)
	}
	return nil
}

// Restore accepts the empty state.
func (Stateless) Restore(State) error { return nil }

// Level is the severity of a log record.
type Level uint8

// The levels of the `log` import, in its order.
const (
	Trace Level = iota
	Debug
	Info
	Warn
	Error
)

// Log writes one record to the host's log, which tags it with the operator
// id and subtask. Meant for lifecycle messages, never one per event.
func Log(level Level, message string) {
	hostLog(level, message)
}
