// The Go side of the Cairn operator contract (package cairn, the
// canonical-ABI glue of wit/operator.wit for mainline Go) and the example
// operators built on it (count, filter, faulty), each a `package main` in a
// directory of its own. See docs/operators-go.md.
module cairn

go 1.24
