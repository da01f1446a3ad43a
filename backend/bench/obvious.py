"""The obvious stack's phase: the same claims, the very requests factmem got, side by side."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from factmem_bench.bench_data import synthetic_claims
from factmem_bench.driving import drive, mixed_plan, run_stats
from factmem_bench.load_run import HEALTH_TIMEOUT_S
from factmem_bench.mix import SEED_CLAIMS
from factmem_bench.phases import Context, check_run, measured_server, server_health, settle
from factmem_bench.process_memory import ProcSampler
from factmem_bench.stats import max_known
from factmem_bench.targets import load_peak, value_at

OBVIOUS_SERVER = (sys.executable, "-m", "factmem_bench.obvious_stack_app")


def obvious_model_dir(target: Path) -> Path:
    """The same model files factmem ships, laid out for FastEmbed, with the 512-token limit FastEmbed's
    published all-MiniLM-L6-v2 uses (factmem truncates at 256)."""
    from factmem.embeddings import assemble_model_dir

    model_dir = assemble_model_dir(target)
    config_path = model_dir / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config_path.unlink()
    config_path.write_text(json.dumps(config | {"model_max_length": 512}), encoding="utf-8")
    return model_dir


def phase_obvious(ctx: Context) -> None:
    """Phase 7: the obvious stack with the same claims, driven with phase 2's requests."""
    c = ctx.counts
    model_dir = obvious_model_dir(ctx.work_dir / "obvious-model")
    use_eval = ctx.claims_file is not None and ctx.claims_file.is_file()
    if use_eval and ctx.claims_file:
        files, limit = [ctx.claims_file, SEED_CLAIMS], c.obvious_claims
    else:
        synthetic = ctx.work_dir / "obvious-claims.jsonl"
        with synthetic.open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in synthetic_claims(c.obvious_claims, ctx.seed))
        files, limit = [synthetic, SEED_CLAIMS], c.obvious_claims
    env = {
        "OBVIOUS_MODEL_DIR": str(model_dir),
        "OBVIOUS_CLAIM_FILES": os.pathsep.join(map(str, files)),
        "OBVIOUS_CLAIM_LIMIT": str(limit),
    }
    section: dict[str, Any] = {
        "stack": "FastAPI + FastEmbed defaults (batch 256, arena on, default threads, 512 tokens) + "
        "qdrant-client :memory:, one uvicorn worker, no cleanup, no locks",
        "claims": limit,
    }
    ctx.report["obvious_stack"] = section
    with (
        measured_server(
            "obvious",
            OBVIOUS_SERVER,
            env,
            ctx.out_dir / "server-obvious.log",
            timeout_s=min(900.0, ctx.remaining_s()),
        ) as (server, _),
        ProcSampler(server.pid) as sampler,
        httpx.Client(timeout=HEALTH_TIMEOUT_S) as client,
    ):
        idle = settle(server, client)
        health = server_health(server, client)
        section |= {
            "to_ready_s": server.ready_s,
            "claims_loaded": health.get("claims_loaded"),
            "max_tokens": health.get("max_tokens"),
            "idle_after_loading": idle,
        }
        started = time.monotonic()
        plan = mixed_plan(c.obvious_requests, ctx.seed, ctx.base)  # the very requests factmem got in phase 2
        run = drive(server.url, plan, c.concurrency, c.health_every, ctx.deadline)
        ended = time.monotonic()
        after = settle(server, client)
        stats = run_stats(run)
        sampled = max_known(sampler.peaks(started, ended)["rss_mb"], *(s.rss_mb for s in run.samples))
        section |= {
            "requests": stats["requests"],
            "peak_rss_mb": load_peak(sampled, idle.get("hwm_mb"), after.get("hwm_mb")),
            "peak_rss_anon_mb": max_known(
                sampler.peaks(started, ended)["rss_anon_mb"], *(s.rss_anon_mb for s in run.samples)
            ),
            "process_hwm_mb": after.get("hwm_mb"),
            "steady_after_load": after,
            "throughput_rps": stats["throughput_rps"],
            "latency_ms": stats["latency_ms"]["ok"],
            "outcomes": stats["outcomes"],
            "errors": stats["outcomes"]["error"] + stats["outcomes"]["unexpected"],
            "error_examples": stats["error_examples"],
            "stopped_early": stats["stopped_early"],
        }
        check_run(ctx, "obvious", run)


def obvious_side(section: dict[str, Any]) -> dict[str, Any]:
    return {
        "requests": section.get("requests"),
        "peak_rss_mb": section.get("peak_rss_mb"),
        "steady_rss_mb": value_at(section, "steady_after_load", "rss_mb"),
        "throughput_rps": section.get("throughput_rps"),
        "p50_ms": value_at(section, "latency_ms", "p50"),
        "p95_ms": value_at(section, "latency_ms", "p95"),
        "errors": section.get("errors"),
    }
