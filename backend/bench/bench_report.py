"""The benchmark's printed summary, and what was measured (commit, packages)."""

from __future__ import annotations

import subprocess
from typing import Any

from factmem_bench.bench_config import FULL
from factmem_bench.bench_data import SYNTHETIC_NOTE
from factmem_bench.providers_phase import summary_lines as providers_summary
from factmem_bench.server import REPO_ROOT
from factmem_bench.targets import value_at


def _fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{(' ' + unit) if unit else ''}"
    return f"{value:,}{(' ' + unit) if unit else ''}" if isinstance(value, int) else f"{value}{unit}"


def _mb(value: Any) -> str:
    return _fmt(value, "MB")


def _stored_note(load: dict[str, Any]) -> str:
    """What the anonymous growth mostly follows: the claims those requests stored, and the growth per 1,000
    of them (a leak shows as growth that does not follow them)."""
    stored, growth = load.get("claims_stored"), load.get("anon_growth_mb")
    if not isinstance(stored, int) or stored <= 0 or growth is None:
        return ""
    return f" while storing {stored:,} claims: {growth * 1000 / stored:.2f} MB per 1,000"


def _trio(stats: dict[str, Any]) -> str:
    p50, p95, p99 = (_fmt(stats.get(k)) for k in ("p50", "p95", "p99"))
    return f"{p50}/{p95}/{p99} ms (n={stats.get('count')})"


def _render_10k(r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if data := r.get("data"):
        lines.append(
            f"  memory         {data['points']:,} points ({data['claims_inserted']:,} claims + "
            f"{data['seed_inserted']} seed); ingest {data['ingest_s']} s, "
            f"{data['ingest_claims_per_s']} claims/s"
        )
    if s := r.get("startup"):
        ready = s["at_ready"]
        lines.append(
            f"  startup        /health {_fmt(s['to_health_s'], 's', 2)}, "
            f"/ready {_fmt(s['to_ready_s'], 's', 2)}; at ready RSS {_mb(ready['rss_mb'])}, "
            f"anon {_mb(ready['rss_anon_mb'])}"
        )
    if s := r.get("steady"):
        lines.append(
            f"  steady         after {s['after_requests']:,} requests: RSS {_mb(s['rss_mb'])}, anon "
            f"{_mb(s['rss_anon_mb'])} (peak during them {_mb(s['peak_during']['rss_mb'])})"
        )
    if s := r.get("load"):
        health = s["health_latency_ms"]
        lines += [
            f"  load           {s['requests']:,} requests: peak RSS {_mb(s['peak_rss_mb'])} (sampled "
            f"{_mb(s['peak_rss_sampled_mb'])}), peak anon {_mb(s['peak_rss_anon_mb'])}; server peak_rss_mb "
            f"{_mb(s['server_peak_rss_mb'])} (high-water mark, includes startup)",
            f"                 anon {_mb(s['anon_after_warm_mb'])} → {_mb(s['anon_end_mb'])} (growth "
            f"{_mb(s['anon_growth_mb'])}{_stored_note(s)}); /health p50 {_fmt(health['p50'], 'ms', 2)}, p99 "
            f"{_fmt(health['p99'], 'ms', 2)} ({health['samples']} samples)",
            f"                 after the first {r['steady']['after_requests']:,}: "
            f"{_fmt(s['throughput_rps'], 'req/s')}, /verify p50/p95/p99 "
            f"{_trio(s['latency_ms']['ok'])}; outcomes {s['outcomes']}",
        ]
    if s := r.get("latency_c1"):
        lines += [
            f"  latency c=1    cache hit  p50/p95/p99 {_trio(s['cache_hit'])}",
            f"                 cache miss p50/p95/p99 {_trio(s['cache_miss'])}; noisy seed claims hit "
            f"{_fmt(s['noisy_seed_claims_hit_rate'], digits=3)}",
        ]
    if s := r.get("throughput"):
        rates = ", ".join(f"c={k[1:]} {_fmt(v['throughput_rps'], 'req/s')}" for k, v in s.items())
        lines.append(f"  throughput     {rates}")
    return lines


def _render_100k(s: dict[str, Any]) -> list[str]:
    index = s.get("index_build") or {}
    polls = index.get("poll_latency_ms") or {}
    tree_rss, tree_anon = (
        index.get("peak_rss_mb_server_and_child"),
        index.get("peak_rss_anon_mb_server_and_child"),
    )
    return [
        f"  100k claims    {s['points']:,} points ({s['synthetic_points']:,} synthetic); ready in "
        f"{_fmt(s.get('to_ready_s'), 's', 2)}, index built by the server in a child process in "
        f"{_fmt(index.get('seconds'), 's')}",
        f"                 meanwhile: server + child peak RSS {_mb(tree_rss)}, anon {_mb(tree_anon)}; "
        f"{polls.get('samples')} "
        f"/health+/ready polls, p99 {_fmt(polls.get('p99'), 'ms')}, max {_fmt(polls.get('max'), 'ms')}",
        f"                 at ready RSS {_mb(value_at(s, 'at_ready', 'rss_mb'))}, anon "
        f"{_mb(value_at(s, 'at_ready', 'rss_anon_mb'))}; "
        f"after {value_at(s, 'run', 'requests')} requests RSS "
        f"{_mb(value_at(s, 'steady', 'rss_mb'))}, anon {_mb(value_at(s, 'steady', 'rss_anon_mb'))}",
        f"                 peak during them {_mb(value_at(s, 'peak_during', 'rss_mb'))}; "
        "cache hit p50 at c=1 "
        f"{_fmt(value_at(s, 'latency_c1', 'cache_hit', 'p50'), 'ms')}",
        f"                 ({SYNTHETIC_NOTE})",
    ]


def _render_obvious(s: dict[str, Any], comparison: dict[str, Any], concurrency: int) -> list[str]:
    ours, theirs, ratios = comparison["factmem"], comparison["obvious"], comparison["ratios"]
    lines = [
        f"  obvious stack  {s['claims_loaded']} claims, ready in {_fmt(s['to_ready_s'], 's')}, "
        f"{s['max_tokens']} tokens; "
        f"idle after loading RSS {_mb(value_at(s, 'idle_after_loading', 'rss_mb'))}",
        f"                 {'factmem':>31}{'obvious':>12}{'ratio':>8}",
    ]
    if ours.get("requests") != theirs.get("requests"):
        lines.append(f"{'':<19}(not the same requests: {ours.get('requests')} vs {theirs.get('requests')})")
    for name, key, ratio_key in (
        (f"requests at c={concurrency}", "requests", None),
        ("peak RSS MB", "peak_rss_mb", "peak_rss"),
        ("steady RSS MB", "steady_rss_mb", "steady_rss"),
        ("req/s", "throughput_rps", "throughput"),
        ("p50 ms", "p50_ms", "p50"),
        ("p95 ms", "p95_ms", None),
        ("errors", "errors", None),
    ):
        shown = _fmt(ratios.get(ratio_key), digits=2) if ratio_key else ""
        lines.append(f"{'':<19}{name:<25}{_fmt(ours.get(key)):>12}{_fmt(theirs.get(key)):>12}{shown:>8}")
    return lines


def render(report: dict[str, Any]) -> str:
    """The human-readable summary printed at the end."""
    meta, counts = report["meta"], report["counts"]
    tree = "clean tree" if not meta.get("git_status") else "uncommitted changes"
    lines = [
        "",
        f"factmem benchmark: commit {meta.get('git_commit')} ({tree}), {meta['cpus']} CPUs, "
        f"{counts['claims']:,} claims, {counts['requests']:,} requests at c={counts['concurrency']}"
        + (" [quick]" if report["args"]["quick"] else ""),
        *_render_10k(report),
    ]
    if (big := report.get("claims_100k")) and "run" in big:
        lines += _render_100k(big)
    if (obvious := report.get("obvious_stack")) and "comparison" in report:
        lines += _render_obvious(obvious, report["comparison"], counts["concurrency"])
    lines += providers_summary(report)
    lines += ["", f"{'target':<48}{'goal':>14}{'measured':>14}  status"]
    for row in report["targets"]:
        goal = f"{'≤' if row['op'] == '<=' else '≥'} {row['limit']:g} {row['unit']}"
        lines.append(f"{row['label']:<48}{goal:>14}{_fmt(row['measured'], row['unit']):>14}  {row['status']}")
    if report["args"]["quick"] or counts["claims"] != FULL.claims or counts["requests"] != FULL.requests:
        lines.append("(counts differ from the conditions of the targets: see 'counts' in the JSON)")
    lines += [f"FAILED: {problem}" for problem in report["failures"]]
    return "\n".join(lines)


def git_info() -> dict[str, Any]:
    """The commit and working-tree state that was measured (read-only git commands)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--short")
    return {
        "git_commit": git("log", "-1", "--format=%h"),
        "git_status": status.splitlines() if status else [],
    }


def package_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    names = (
        "fastapi",
        "uvicorn",
        "onnxruntime",
        "tokenizers",
        "qdrant-edge-py",
        "qdrant-client",
        "numpy",
        "fastembed",  # the obvious-stack baseline's; the service does not import it
    )
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions
