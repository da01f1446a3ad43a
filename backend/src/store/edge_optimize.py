"""Build a Qdrant Edge shard's vector index in a process of its own.

    python -m factmem.store.edge_optimize SHARD_PATH PARENT_PID


Qdrant Edge's ``optimize()`` holds the Python GIL for its whole run (20-75 s at 100k points). Inside the
server that would freeze the event loop, so ``/health`` would stop answering and the platform would restart
the service mid-build. :meth:`factmem.store.edge.EdgeClaimStore.build_index_out_of_process` closes its shard
(keeping the lock that makes it the shard's only owner), runs this module, and reopens the shard.

Prints one JSON line: ``{"changed": true|false, "seconds": ...}``. Exit codes: 0 built, 1 failed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import qdrant_edge as qe

from factmem.store.builder_lock import die_with_parent, hold_build_lock


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m factmem.store.edge_optimize SHARD_PATH PARENT_PID", file=sys.stderr)
        return 2
    started = time.perf_counter()
    die_with_parent(int(argv[1]))  # never outlive the server that owns the shard (factmem.store.builder_lock)
    try:
        hold_build_lock(Path(argv[0]))
        # The parent holds the shard's lock file and has closed its own handle: this process is the owner.
        shard = qe.EdgeShard.load(argv[0])
        try:
            changed = shard.optimize()
            shard.flush()
        finally:
            shard.close()
    except Exception as exc:  # reported to the parent, which logs it and carries on without the index
        print(f"optimize failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"changed": changed, "seconds": round(time.perf_counter() - started, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
