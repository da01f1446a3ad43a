"""Measure factmem against its memory and latency targets, and against the obvious stack, in one command.

    .venv/bin/python backend/benchmark.py                 # the full run (the README says how long)
    .venv/bin/python backend/benchmark.py --quick         # scaled-down counts, a few minutes
    .venv/bin/python backend/benchmark.py --skip-100k --skip-obvious --claims 300 --requests 100

Phases (each against the real server, ``backend/api_server.py`` in a subprocess on 127.0.0.1 with
``MEMORY_LIMIT_MB=512`` and the embedded Qdrant Edge store):

0. memory: the first ``--claims`` claims of ``../shared/eval/vclaims.jsonl`` (read in place; the release has
   no verdicts, so they get alternating True/False labels) or synthetic claims, plus the packaged seed
   claims, stored through ``factmem.ingest.ingest_claims`` into a fresh data directory, index built;
1. startup: seconds from process start to ``/health`` 200 and to ``/ready`` 200, RSS at ready;
2. steady memory after ``--warm-requests`` mixed requests at concurrency 8 (the load tool's mix:
   repeats, paraphrases, new claims, ~2,000-character claims, invalid inputs);
3. the rest of ``--requests`` mixed requests: peak RSS / anonymous RSS, anonymous growth between the end of
   phase 2 and the end, ``/health`` latency sampled during the load, errors and sheds;
4. ``/verify`` latency at concurrency 1 for cache hits (seed claims with chat noise) and misses (new claims);
5. throughput of the mix at concurrency 1, 4 and 8;
6. a 100k-claim store (the claims above plus synthetic points: random unit vectors with payloads built
   exactly like real ones — RSS depends on the point count and payload size, not on what the vectors mean),
   a server started on it, which finds 90k points unindexed and builds the index in a child process before
   it reports ready (``/health`` and ``/ready`` latency and the peak of server + child are recorded);
7. the obvious stack (``factmem_bench.obvious_stack_app``: FastEmbed defaults + qdrant-client ``:memory:``)
   loaded with the same claims and driven with the same phase-2 requests, side by side.

Memory is read from ``/proc/<pid>/status`` of each server every 0.1 s (VmRSS, RssAnon, VmHWM) and from the
server's own ``/health``. No container limit is enforced here: ``MEMORY_LIMIT_MB`` only drives the server's
guard, so the obvious stack can show how far above 512 MB it goes.

Loopback only; bounded by ``--max-minutes``; servers stopped and temporary directories removed on every exit
(Ctrl-C and SIGTERM included) unless ``--keep``. Prints a table of the targets with MET / NOT MET and writes
everything to ``--out`` (default ``reports/benchmark-<timestamp>/benchmark.json``). Exit codes: 0 every
requested phase ran (whatever the targets say: this is a measurement, not a test), 1 a phase failed or was
cut by the time budget, 2 usage error, 130 interrupted. The code lives in the ``factmem_bench`` package
(``backend/bench/``); this file is the command.
"""

import sys

from factmem_bench.benchmark_command import main

if __name__ == "__main__":
    sys.exit(main())
