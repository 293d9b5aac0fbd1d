"""For operators that run with `state: memory` in pipeline.yaml: the host
snapshots the instance's linear memory and globals itself (the Python heap,
module-level dicts included), so the operator writes no snapshot code.

The 0.1.0 world still names `snapshot` and `restore`; inherit from
`MemoryState` to define them once, as refusals the host never calls for such
an operator (they say what is wrong if `state: memory` is missing).
"""

from componentize_py_types import Err

MISSING = "this operator's state is taken by the host: set `state: memory` on it in pipeline.yaml"


class MemoryState:
    """The snapshot exports of an operator whose state the host takes."""

    def snapshot(self):
        raise Err(MISSING)

    def snapshot_read(self, max_len: int) -> bytes:
        return b""

    def restore(self, info) -> None:
        raise Err(MISSING)

    def restore_write(self, bytes: bytes) -> None:
        raise Err(MISSING)

    def restore_finish(self) -> None:
        raise Err(MISSING)
