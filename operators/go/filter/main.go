// Command filter is `filter` in Go: keeps the events whose value contains a
// substring.
//
// The same operator as the Rust `operators/guests/filter`. Config:
// {"contains": "<substring>", "invert": false} (`contains` required;
// `invert` optional, default false, keeps the events that do *not* contain
// it). Matching is on bytes. Events pass through unchanged. Stateless.
//
// Built by `guestc go` into target/operators/go-filter.wasm.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"cairn"
)

type filter struct {
	cairn.Stateless
	needle []byte
	invert bool
}

func main() {}

func init() {
	cairn.Export(func(config string) (cairn.Operator, error) {
		f, err := parse(config)
		if err != nil {
			return nil, fmt.Errorf("invalid config: %w", err)
		}
		return f, nil
	})
}

// parse reads {"contains": "...", "invert": bool}, naming an unknown or
// missing field the way the Rust filter (serde) does.
func parse(config string) (*filter, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(config), &fields); err != nil || fields == nil {
		return nil, errors.New("expected an object with `contains`")
	}
	f := &filter{}
	var haveContains bool
	for name, raw := range fields {
		switch name {
		case "contains":
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, errors.New("`contains` must be a string")
			}
			f.needle, haveContains = []byte(s), true
		case "invert":
			if err := json.Unmarshal(raw, &f.invert); err != nil {
				return nil, errors.New("`invert` must be true or false")
			}
		default:
			return nil, fmt.Errorf("unknown field `%s`, expected `contains` or `invert`", name)
		}
	}
	if !haveContains {
		return nil, errors.New("missing field `contains`")
	}
	return f, nil
}

func (f *filter) Process(in *cairn.Batch) (*cairn.Batch, error) {
	out := &cairn.Batch{}
	for _, e := range in.All() {
		if bytes.Contains(e.Value, f.needle) != f.invert {
			out.Emit(e)
		}
	}
	return out, nil
}
