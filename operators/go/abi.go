//go:build wasip1

package cairn

// The canonical ABI of `cairn:operator@0.1.0` for mainline Go (GOOS=wasip1,
// GOARCH=wasm, -buildmode=c-shared), written by hand.
//
// Mainline Go's wasm port has 64-bit pointers and ints in a 32-bit linear
// memory, so the ABI's records (a list is an i32 pointer and an i32 length)
// are written into a return area word by word, never as Go structs.
//
// Memory. Results point into Go slices, kept reachable in `pinned` until the
// call's `cabi_post_*` function, after the host has copied them out (Go's
// collector does not move objects). Arguments are another matter: the host
// lowers them into memory it asks for with `cabi_realloc`, and no import may
// be called until the export runs -- but any Go allocation may call one (the
// collector and the page allocator read the clock: "cannot leave component
// instance"). So `cabi_realloc` runs no allocator: it bumps through memory
// taken with the runtime's own `sbrk` (so that the Go heap never hands the
// same pages out), and the post-return functions rewind it. An export's
// arguments (the input batch's slices) are valid until the call returns:
// copy what you keep. Exports are never re-entered (one call at a time per
// instance).

import (
	"errors"
	"unsafe"
)

// adapterArena is where the WASI preview 1 adapter (which turns the Go
// runtime's WASI calls into WASI 0.2 imports) keeps its state and stack.
// The adapter allocates them on the runtime's first WASI call, inside
// `_initialize`, when no Go export may run yet; and it must not grow the
// memory itself, which the Go runtime assumes it alone grows. So the
// component build (`guestc go`) finds this array by its marker (the first
// 12 bytes, then its size in KiB as 4 decimal digits) and adds a
// `cabi_realloc_adapter` function, in plain WebAssembly, that hands the
// adapter pieces of it.
var adapterArena = [adapterArenaSize]byte{
	'c', 'a', 'i', 'r', 'n', '-', 'a', 'd', 'a', 'p', 't', '!',
	'0' + adapterArenaKiB/1000, '0' + adapterArenaKiB/100%10, '0' + adapterArenaKiB/10%10, '0' + adapterArenaKiB%10,
}

// adapterArenaKiB: the adapter's stack is 64 KiB, its state a few KiB.
const (
	adapterArenaKiB  = 192
	adapterArenaSize = adapterArenaKiB << 10
)

func init() {
	// Keeps the arena in the module (the linker drops unreferenced data).
	if adapterArena[0] != 'c' {
		panic("cairn: the adapter arena's marker was overwritten")
	}
}

// pinned holds what the host may still read or the current call still uses.
var pinned []any

// retArea is where results that do not fit in one core value are written.
var retArea [8]uint64

//go:wasmimport cairn:operator/log@0.1.0 log
func wasmLog(level uint32, ptr unsafe.Pointer, len uint32)

func hostLog(level Level, message string) {
	wasmLog(uint32(level), unsafe.Pointer(unsafe.StringData(message)), uint32(len(message)))
}

// sbrk is the Go runtime's: it grows the linear memory and moves the break
// the Go heap grows from, so the pages are ours alone. (A pull linkname: the
// build needs -ldflags=-checklinkname=0.)
//
//go:linkname sbrk runtime.sbrk
func sbrk(n uintptr) unsafe.Pointer

// The memory arguments are lowered into: [lowerBase, lowerEnd), bumped
// through lowerNext, rewound after each call. Plain integers: no write
// barriers while the host lowers.
var lowerBase, lowerNext, lowerEnd uintptr

// lowerChunk is the smallest piece taken from sbrk.
const lowerChunk = 1 << 20

//go:wasmexport cabi_realloc
func cabiRealloc(old unsafe.Pointer, oldSize, align, newSize uint32) unsafe.Pointer {
	p := lowerAlloc(uintptr(newSize), uintptr(max(align, 1)))
	if old != nil && oldSize > 0 {
		memmove(p, old, uintptr(min(oldSize, newSize)))
	}
	return addrPointer(p)
}

// lowerAlloc bumps n bytes aligned to align (a power of two). When the piece
// is full, a new one of at least twice its size is taken (what the old one
// holds stays valid until the call returns; its pages are not used again).
//
//go:nosplit
func lowerAlloc(n, align uintptr) uintptr {
	p := (lowerNext + align - 1) &^ (align - 1)
	if p+n > lowerEnd || lowerBase == 0 {
		size := max(2*(lowerEnd-lowerBase), lowerChunk)
		for size < n+align {
			size *= 2
		}
		base := uintptr(sbrk(size))
		if base == 0 {
			return 0 // the memory limit: the host has trapped already
		}
		lowerBase, lowerEnd = base, base+size
		p = (base + align - 1) &^ (align - 1)
	}
	lowerNext = p + n
	return p
}

//go:nosplit
func memmove(to uintptr, from unsafe.Pointer, n uintptr) {
	copy(unsafe.Slice((*byte)(addrPointer(to)), n), unsafe.Slice((*byte)(from), n))
}

// addrPointer makes a pointer of an address outside the Go heap.
//
//go:nosplit
func addrPointer(a uintptr) unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(nil), a)
}

// release drops what the last call pinned and rewinds the argument memory.
func release() {
	clear(pinned)
	pinned = pinned[:0]
	lowerNext = lowerBase
}

func put32(offset uintptr, v uint32) {
	*(*uint32)(unsafe.Add(unsafe.Pointer(&retArea), offset)) = v
}

func put64(offset uintptr, v uint64) {
	*(*uint64)(unsafe.Add(unsafe.Pointer(&retArea), offset)) = v
}

// addr is the linear-memory address of a slice's data (0 when empty), pinned.
func addr[T any](s []T) uint32 {
	if len(s) == 0 {
		return 0
	}
	pinned = append(pinned, s)
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(s))))
}

// putList writes a list (pointer, length) at offset.
func putList[T any](offset uintptr, s []T) {
	put32(offset, addr(s))
	put32(offset+4, uint32(len(s)))
}

func putString(offset uintptr, s string) {
	putList(offset, []byte(s))
}

func liftList[T any](p unsafe.Pointer, n uint32) []T {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(p), n)
}

func liftString(p unsafe.Pointer, n uint32) string {
	return string(liftList[byte](p, n))
}

// unitResult writes `result<_, string>`: disc at 0, error string at 4.
func unitResult(err error) unsafe.Pointer {
	if err == nil {
		put32(0, 0)
	} else {
		put32(0, 1)
		putString(4, err.Error())
	}
	return unsafe.Pointer(&retArea)
}

// batchResult writes `result<batch, string>`: disc at 0, the batch's six
// lists (or the error string) from 4.
func batchResult(b *Batch, err error) unsafe.Pointer {
	if err != nil {
		return unitResult(err)
	}
	if b == nil {
		b = &Batch{}
	}
	put32(0, 0)
	putList(4, b.Keys)
	putList(12, b.KeyEnds)
	putList(20, b.Values)
	putList(28, b.ValueEnds)
	putList(36, b.Timestamps)
	putList(44, b.Keyless)
	return unsafe.Pointer(&retArea)
}

// The operator instance, and the state crossing the boundary.
var (
	op        Operator
	snapshot  []byte // bytes of the last snapshot not read yet
	restoring *restore
)

// restore is a restore in progress.
type restore struct {
	format  string
	version uint32
	size    uint64
	bytes   []byte
}

var errNoInit = errors.New("called before a successful init")

//go:wasmexport cairn:operator/operator@0.1.0#init
func exportInit(configPtr unsafe.Pointer, configLen uint32) unsafe.Pointer {
	if registered == nil {
		return unitResult(errors.New("no operator: call cairn.Export in an init function of package main"))
	}
	o, err := registered(liftString(configPtr, configLen))
	if err == nil {
		op = o
	}
	return unitResult(err)
}

//go:wasmexport cairn:operator/operator@0.1.0#process
func exportProcess(keysPtr unsafe.Pointer, keysLen uint32, keyEndsPtr unsafe.Pointer, keyEndsLen uint32,
	valuesPtr unsafe.Pointer, valuesLen uint32, valueEndsPtr unsafe.Pointer, valueEndsLen uint32,
	timestampsPtr unsafe.Pointer, timestampsLen uint32, keylessPtr unsafe.Pointer, keylessLen uint32) unsafe.Pointer {
	if op == nil {
		return unitResult(errNoInit)
	}
	if restoring != nil {
		return unitResult(errors.New("process called while a restore is in progress"))
	}
	in := &Batch{
		Keys:       liftList[byte](keysPtr, keysLen),
		KeyEnds:    liftList[uint32](keyEndsPtr, keyEndsLen),
		Values:     liftList[byte](valuesPtr, valuesLen),
		ValueEnds:  liftList[uint32](valueEndsPtr, valueEndsLen),
		Timestamps: liftList[int64](timestampsPtr, timestampsLen),
		Keyless:    liftList[uint32](keylessPtr, keylessLen),
	}
	return batchResult(op.Process(in))
}

//go:wasmexport cairn:operator/operator@0.1.0#on-watermark
func exportOnWatermark(ts int64) unsafe.Pointer {
	if op == nil {
		return unitResult(errNoInit)
	}
	return batchResult(op.OnWatermark(ts))
}

// snapshot returns `result<state-info, string>`: disc at 0, then from 8 the
// format string, the version at 16 and the size at 24.
//
//go:wasmexport cairn:operator/operator@0.1.0#snapshot
func exportSnapshot() unsafe.Pointer {
	if op == nil {
		return unitResult(errNoInit)
	}
	state, err := op.Snapshot()
	if err != nil {
		return unitResult(err)
	}
	snapshot = state.Bytes
	put32(0, 0)
	putString(8, state.Format)
	put32(16, state.Version)
	put64(24, uint64(len(state.Bytes)))
	return unsafe.Pointer(&retArea)
}

//go:wasmexport cairn:operator/operator@0.1.0#snapshot-read
func exportSnapshotRead(maxLen uint32) unsafe.Pointer {
	n := min(uint32(len(snapshot)), maxLen)
	putList(0, snapshot[:n])
	snapshot = snapshot[n:]
	if len(snapshot) == 0 {
		snapshot = nil
	}
	return unsafe.Pointer(&retArea)
}

//go:wasmexport cairn:operator/operator@0.1.0#restore
func exportRestore(formatPtr unsafe.Pointer, formatLen uint32, version uint32, size uint64) unsafe.Pointer {
	if op == nil {
		return unitResult(errNoInit)
	}
	restoring = nil
	format := liftString(formatPtr, formatLen)
	if err := op.BeginRestore(format, version, size); err != nil {
		return unitResult(err)
	}
	restoring = &restore{format: format, version: version, size: size}
	return unitResult(nil)
}

//go:wasmexport cairn:operator/operator@0.1.0#restore-write
func exportRestoreWrite(ptr unsafe.Pointer, n uint32) unsafe.Pointer {
	r := restoring
	if r == nil {
		return unitResult(errors.New("restore-write without restore"))
	}
	if uint64(len(r.bytes))+uint64(n) > r.size {
		restoring = nil
		return unitResult(errors.New("restore-write: more bytes than the state's announced size"))
	}
	if r.bytes == nil {
		r.bytes = make([]byte, 0, r.size)
	}
	r.bytes = append(r.bytes, liftList[byte](ptr, n)...)
	return unitResult(nil)
}

//go:wasmexport cairn:operator/operator@0.1.0#restore-finish
func exportRestoreFinish() unsafe.Pointer {
	r := restoring
	restoring = nil
	if r == nil {
		return unitResult(errors.New("restore-finish without restore"))
	}
	if uint64(len(r.bytes)) != r.size {
		return unitResult(errors.New("restore-finish: fewer bytes written than the state's announced size"))
	}
	return unitResult(op.Restore(State{Format: r.format, Version: r.version, Bytes: r.bytes}))
}

// After each call, once the host has copied the results out.

//go:wasmexport cabi_post_cairn:operator/operator@0.1.0#init
func postInit(unsafe.Pointer) { release() }

//go:wasmexport cabi_post_cairn:operator/operator@0.1.0#process
func postProcess(unsafe.Pointer) { release() }

//go:wasmexport cabi_post_cairn:operator/operator@0.1.0#on-watermark
func postOnWatermark(unsafe.Pointer) { release() }

//go:wasmexport cabi_post_cairn:operator/operator@0.1.0#snapshot
func postSnapshot(unsafe.Pointer) { release() }

//go:wasmexport cabi_post_cairn:operator/operator@0.1.0#snapshot-read
func postSnapshotRead(unsafe.Pointer) { release() }

//go:wasmexport cabi_post_cairn:operator/operator@0.1.0#restore
func postRestore(unsafe.Pointer) { release() }

//go:wasmexport cabi_post_cairn:operator/operator@0.1.0#restore-write
func postRestoreWrite(unsafe.Pointer) { release() }

//go:wasmexport cabi_post_cairn:operator/operator@0.1.0#restore-finish
func postRestoreFinish(unsafe.Pointer) { release() }
