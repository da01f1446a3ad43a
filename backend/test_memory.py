"""Load-test a factmem server and show, with numbers, whether its memory stays flat under load.

Run it against a server on your own machine::

    .venv/bin/python backend/test_memory.py                       # http://127.0.0.1:8000, 1,000 requests
    .venv/bin/python backend/test_memory.py --start-server --server-memory-limit-mb 512 -n 2000

It sends a seeded, reproducible mix of claims (repeats, paraphrases, never-seen claims, long claims and
invalid inputs) to ``POST /verify`` from a few threads, samples ``GET /health`` every K completed requests,
and writes ``requests.csv``, ``health.csv``, ``summary.json`` and ``memory.png`` to ``--out``. The verdict
is PASS when peak RSS stays under the limit, memory does not grow faster than ``--max-growth-mb-per-1k``
over the second half of the run, and every answer is one the HTTP contract allows. Exit codes: 0 PASS,
1 FAIL, 2 usage error or server not reachable, 130 aborted by a second Ctrl-C.

It also drives any other server that speaks ``POST /verify`` and ``GET /health`` (``--url``); give
``--server-pid`` when that server's ``/health`` does not report its memory, and the same run measures it.

Safety: only loopback targets unless ``--allow-remote``; every run stops by itself after ``--requests``
requests or ``--max-seconds`` seconds, whichever comes first. The code lives in the ``factmem_bench`` package
(``backend/bench/``); this file is the command, not a pytest module: nothing in it is named ``test_*``.
"""

import sys

from factmem_bench.load_command import main

if __name__ == "__main__":
    sys.exit(main())
