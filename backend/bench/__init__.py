"""factmem_bench: the tools that measure a server from the outside; the server never imports this package.

Two commands use it, and users run them as before: ``backend/test_memory.py`` (the load test: is memory flat
under load?) and ``backend/benchmark.py`` (factmem against its targets and against the obvious stack). The
tests start their servers with the same launcher.

    server             one way to start a server on loopback, wait for it, and stop it (tools and tests)
    loopback           only loopback targets, unless the user owns the remote one
    mix                the seeded request mix: repeats, paraphrases, new, long and invalid claims
    contract           what an answer to POST /verify may be: ok, expected 4xx, shed, error, unexpected
    stats              percentiles, slopes, latency summaries
    memory_trend       memory over a run: growth on the second half, and the PASS/FAIL verdict
    process_memory     /proc/<pid> readings of a server (and its children), sampled in a thread
    load_run           threads sending a plan while /health is sampled
    load_report        summary.json, the CSVs and the printed report; charts draws memory.png
    load_command       the load test's command line (backend/test_memory.py)
    bench_data         claims and points for the benchmark's memories (eval data read in place, synthetic)
    build_steps        building those memories in a child process (python -m factmem_bench.build_steps)
    targets            the benchmark's targets, and factmem ÷ obvious ratios
    phases             the benchmark's phases on factmem; obvious: the obvious stack's phase
    obvious_stack_app  the obvious stack itself, the baseline (python -m factmem_bench.obvious_stack_app)
    bench_report       the benchmark's printed summary
    benchmark_command  the benchmark's command line (backend/benchmark.py)
    provider_servers   scripted LLM (chat completions), Tavily and SearXNG servers on loopback
    providers_phase    the benchmark's phase with those providers: bursts of misses, hits meanwhile, memory
"""
