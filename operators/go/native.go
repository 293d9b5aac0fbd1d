//go:build !wasip1

package cairn

import (
	"fmt"
	"os"
)

// hostLog outside WebAssembly (unit tests of operators): standard error.
func hostLog(level Level, message string) {
	fmt.Fprintf(os.Stderr, "[%d] %s\n", level, message)
}
