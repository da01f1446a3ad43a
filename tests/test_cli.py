"""``python -m factmem`` as an operator runs it: a subprocess with ``DATA_DIR`` set, on files written here.

The tests of this module share one data directory, so the model is converted once, and each test uses its
own collections (``CLAIMS_COLLECTION``/``EVIDENCE_COLLECTION``) so their stores stay apart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from factmem import cli
from factmem.embeddings import Embedder
from factmem.settings import Settings, get_settings

# Every test runs the command in a process of its own, which loads the model: seconds each.
pytestmark = pytest.mark.e2e

CLAIMS_JSONL = [
    {
        "claim": "The Harbor of Quillon freezes over every winter.",
        "verdict": "true",
        "explanation": "Harbour records.",
        "source_url": "https://example.org/quillon",
        "source_reliability": 0.9,
        "date": "2024-02-01",
    },
    {"claim": "The Tellwick Mill ground flour for 300 years.", "verdict": "False"},
    {"claim": "The Ambershaw Bridge has nine arches.", "verdict": "Maybe"},  # bad verdict
    {"claim": "!!!", "verdict": "True"},  # no letters
    {"claim": "Corrowdale Abbey was founded in 1132.", "verdict": "Uncertain", "source": "County history"},
]

CLAIMS_CSV = """claim,verdict,explanation,source_url,source_reliability,date
The Fenmarsh lock was rebuilt in 1911.,True,Lock keeper's log.,https://example.org/fenmarsh,0.8,2023-05-01
The Fenmarsh canal is 90 kilometres long.,False,Survey of 1920.,,0.7,
"The Fenmarsh ferry, like the canal, closed in 1950.",True,,,,
The Fenmarsh tunnel is haunted.,True,Local legend.,ftp://example.org/not-http,0.5,
"""

PASSAGES_JSONL = [
    {"text": "The Harbor of Quillon is ice-bound from December to March.", "source": "Port almanac"},
    {"text": "Corrowdale Abbey's charter is dated 1132.", "source_url": "https://example.org/abbey"},
    {"text": "too short"},  # 9 characters: under the 10 a passage needs
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-data")


def factmem(data_dir: Path, cwd: Path, *args: str, collection: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI; ``cwd`` is a clean directory so no developer ``.env`` is read."""
    env = os.environ | {
        "DATA_DIR": str(data_dir),
        "CLAIMS_COLLECTION": f"{collection}_claims",
        "EVIDENCE_COLLECTION": f"{collection}_evidence",
    }
    return subprocess.run(
        [sys.executable, "-m", "factmem", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def report_of(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def stats_of(data_dir: Path, cwd: Path, collection: str) -> dict[str, Any]:
    run = factmem(data_dir, cwd, "stats", collection=collection)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_ingest_jsonl_reports_inserted_and_rejected_rows(data_dir: Path, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "claims.jsonl", CLAIMS_JSONL)

    report = report_of(factmem(data_dir, tmp_path, "ingest", str(path), collection="jsonl"))

    assert (report["inserted"], report["updated"]) == (3, 0)
    assert len(report["rejected"]) == 2
    assert any("line 3" in r and "verdict" in r for r in report["rejected"])
    assert any("no letters" in r for r in report["rejected"])
    assert stats_of(data_dir, tmp_path, "jsonl") == {"backend": "qdrant-edge", "claims": 3, "evidence": 0}


def test_re_ingesting_a_csv_reports_updated_not_inserted(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "claims.csv"
    path.write_text(CLAIMS_CSV, encoding="utf-8")

    first = report_of(factmem(data_dir, tmp_path, "ingest", str(path), collection="csv"))
    assert (first["inserted"], first["updated"]) == (3, 0)
    assert len(first["rejected"]) == 1 and "line 5" in first["rejected"][0] and "http" in first["rejected"][0]

    second = report_of(factmem(data_dir, tmp_path, "ingest", str(path), "--no-index", collection="csv"))
    assert (second["inserted"], second["updated"]) == (0, 3)
    assert second["rejected"] == first["rejected"]
    assert stats_of(data_dir, tmp_path, "csv")["claims"] == 3


def test_ingest_evidence_then_stats(data_dir: Path, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "passages.jsonl", PASSAGES_JSONL)

    report = report_of(factmem(data_dir, tmp_path, "ingest-evidence", str(path), collection="evidence"))

    assert (report["inserted"], report["updated"]) == (2, 0)
    assert len(report["rejected"]) == 1 and "line 3" in report["rejected"][0]
    assert stats_of(data_dir, tmp_path, "evidence") == {"backend": "qdrant-edge", "claims": 0, "evidence": 2}


def test_reindex_leaves_a_hybrid_memory_alone_unless_asked_to_recompute(
    data_dir: Path, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "claims.jsonl", CLAIMS_JSONL)
    report_of(factmem(data_dir, tmp_path, "ingest", str(path), "--no-index", collection="reindex"))

    left = report_of(factmem(data_dir, tmp_path, "reindex", collection="reindex"))
    again = report_of(factmem(data_dir, tmp_path, "reindex", "--recompute", collection="reindex"))

    assert left == {"points": 3, "reindexed": False, "old_shard": ""}
    assert (again["points"], again["reindexed"]) == (3, True)
    assert Path(again["old_shard"]).name.startswith("reindex_claims.hybrid-")
    assert stats_of(data_dir, tmp_path, "reindex") == {"backend": "qdrant-edge", "claims": 3, "evidence": 0}


def test_missing_file_exits_2_with_a_message(data_dir: Path, tmp_path: Path) -> None:
    run = factmem(data_dir, tmp_path, "ingest", str(tmp_path / "nope.jsonl"), collection="missing")
    assert run.returncode == 2
    assert "no such file" in run.stderr and "nope.jsonl" in run.stderr
    assert run.stdout == ""


def test_unsupported_format_exits_2_with_a_message(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "claims.txt"
    path.write_text("The Harbor of Quillon freezes over every winter.\n", encoding="utf-8")
    run = factmem(data_dir, tmp_path, "ingest", str(path), collection="txt")
    assert run.returncode == 2
    assert "unsupported format" in run.stderr and ".jsonl or .csv" in run.stderr


def test_file_with_only_bad_rows_exits_1(data_dir: Path, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [{"claim": "x", "verdict": "True"}, {"verdict": "False"}])
    run = factmem(data_dir, tmp_path, "ingest", str(path), "--no-index", collection="bad")
    assert run.returncode == 1
    report = json.loads(run.stdout)
    assert (report["inserted"], report["updated"], len(report["rejected"])) == (0, 0, 2)


def test_no_command_is_a_usage_error(data_dir: Path, tmp_path: Path) -> None:
    run = factmem(data_dir, tmp_path, collection="usage")
    assert run.returncode == 2
    assert "usage" in run.stderr


def test_export_then_import_into_an_empty_memory_gives_the_same_memory(
    data_dir: Path, tmp_path: Path
) -> None:
    report_of(
        factmem(
            data_dir,
            tmp_path,
            "ingest",
            str(write_jsonl(tmp_path / "c.jsonl", CLAIMS_JSONL)),
            collection="exp",
        )
    )
    report_of(
        factmem(
            data_dir,
            tmp_path,
            "ingest-evidence",
            str(write_jsonl(tmp_path / "p.jsonl", PASSAGES_JSONL)),
            collection="exp",
        )
    )
    backup = tmp_path / "backup.jsonl"
    exported = factmem(data_dir, tmp_path, "export", "--output", str(backup), collection="exp")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stderr.strip().splitlines()[-1])["exported"] == {"claims": 3, "evidence": 2}
    imported = report_of(factmem(data_dir, tmp_path, "import", str(backup), collection="imp"))
    assert imported["imported"] == {"claims": 3, "evidence": 2}
    again = factmem(data_dir, tmp_path, "export", collection="imp")
    assert _points(again.stdout) == _points(backup.read_text())
    assert stats_of(data_dir, tmp_path, "imp")["claims"] == 3


def _points(export: str) -> list[str]:
    """An export's point lines, canonical and sorted (the header carries a timestamp)."""
    return sorted(json.dumps(json.loads(line), sort_keys=True) for line in export.splitlines()[1:])


CLAIM_REVIEWS = {
    "@context": "https://schema.org",
    "@type": "DataFeed",
    "dataFeedElement": [
        {
            "@type": "DataFeedItem",
            "item": [
                {
                    "@type": "ClaimReview",
                    "claimReviewed": "The Varnholt dam burst in 1987.",
                    "reviewRating": {"@type": "Rating", "alternateName": "Pants on Fire"},
                    "author": {"@type": "Organization", "name": "Checkers Weekly"},
                    "url": "https://example.org/varnholt",
                    "datePublished": "2021-03-04T10:00:00Z",
                    "headline": "No, the Varnholt dam never burst",
                    "itemReviewed": {"@type": "Claim", "author": {"@type": "Person", "name": "A. Blogger"}},
                },
                {
                    "@type": "ClaimReview",
                    "claimReviewed": "The Varnholt reservoir supplies two towns.",
                    "reviewRating": {"@type": "Rating", "ratingValue": 5, "bestRating": 5, "worstRating": 1},
                    "author": {"name": "Checkers Weekly"},
                    "url": "https://example.org/varnholt-towns",
                },
                {
                    "@type": "ClaimReview",
                    "claimReviewed": "The Varnholt dam is the tallest in Europe.",
                    "reviewRating": {"alternateName": "Half True"},
                },
            ],
        }
    ],
}


def test_ingest_claimreview_json_maps_ratings_and_sources(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "reviews.json"
    path.write_text(json.dumps(CLAIM_REVIEWS), encoding="utf-8")

    report = report_of(factmem(data_dir, tmp_path, "ingest", str(path), "--no-index", collection="review"))

    assert (report["inserted"], report["rejected"]) == (3, [])
    export = tmp_path / "export.jsonl"
    run = factmem(data_dir, tmp_path, "export", "--output", str(export), collection="review")
    assert run.returncode == 0, run.stderr
    payloads = {
        row["payload"]["claim_text"]: row["payload"]
        for row in map(json.loads, export.read_text(encoding="utf-8").splitlines())
        if "payload" in row and "claim_text" in row["payload"]
    }
    burst = payloads["The Varnholt dam burst in 1987."]
    assert burst["verdict"] == "False" and burst["source"] == "Checkers Weekly"
    assert burst["source_url"] == "https://example.org/varnholt" and burst["source_date"] == "2021-03-04"
    assert burst["title"] == "No, the Varnholt dam never burst"
    assert "Pants on Fire" in burst["explanation"] and "A. Blogger" in burst["explanation"]
    assert payloads["The Varnholt reservoir supplies two towns."]["verdict"] == "True"
    assert payloads["The Varnholt dam is the tallest in Europe."]["verdict"] == "Uncertain"


def test_an_interrupted_ingest_resumes_after_its_last_checkpoint(data_dir: Path, tmp_path: Path) -> None:
    from factmem.cli import _Progress
    from factmem.settings import Settings

    rows = [
        {"claim": f"The Dunmere lighthouse keeper number {n} served for {n + 3} years.", "verdict": "True"}
        for n in range(6)
    ]
    path = write_jsonl(tmp_path / "keepers.jsonl", rows)
    progress = _Progress(Settings(_env_file=None, data_dir=data_dir), path)  # type: ignore[call-arg]
    progress.save(4)  # as a run killed after its checkpoint at record 4 would have left it

    run = factmem(data_dir, tmp_path, "ingest", str(path), "--no-index", collection="resume")

    assert report_of(run)["inserted"] == 2
    assert "resuming keepers.jsonl after 4 records" in run.stderr
    assert not progress.file.exists(), "a finished ingest forgets its progress"
    again = report_of(factmem(data_dir, tmp_path, "ingest", str(path), "--no-index", collection="resume"))
    assert (again["inserted"], again["updated"]) == (4, 2)


def test_bulk_commands_embed_with_ingest_concurrency(
    embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process: ingest and import load the model with ``INGEST_CONCURRENCY`` calls at once and set the
    allocator's ``INGEST_MALLOC_MMAP_THRESHOLD_KB`` (the server keeps ``EMBEDDING_CONCURRENCY`` and
    ``MALLOC_MMAP_THRESHOLD_KB``), and what they store is found again."""
    loaded_with: dict[str, int] = {}
    mmap_threshold_kb: dict[str, int] = {}

    def shared_model(settings: Settings) -> Embedder:
        loaded_with[command] = settings.embedding_concurrency
        return embedder

    def allocator(settings: Settings) -> None:
        mmap_threshold_kb[command] = settings.malloc_mmap_threshold_kb

    monkeypatch.setattr(cli, "get_shared_embedding_model", shared_model)
    monkeypatch.setattr(cli, "configure_allocator", allocator)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_KB", "128")
    monkeypatch.setenv("INGEST_MALLOC_MMAP_THRESHOLD_KB", "2048")
    monkeypatch.setattr(cli, "configure_logging", lambda *args: None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INGEST_CONCURRENCY", "3")
    rows = write_jsonl(tmp_path / "claims.jsonl", CLAIMS_JSONL)
    exported = tmp_path / "memory.jsonl"
    steps = [
        ("first", "ingest", [str(rows), "--no-index"]),
        ("first", "export", ["--output", str(exported)]),
        ("second", "import", [str(exported)]),
    ]
    try:
        for data_dir, command, args in steps:
            monkeypatch.setenv("DATA_DIR", str(tmp_path / data_dir))
            get_settings.cache_clear()
            assert cli.main([command, *args]) == 0
        assert loaded_with == {"ingest": 3, "import": 3}, "export embeds nothing"
        assert mmap_threshold_kb == {"ingest": 2048, "export": 128, "import": 2048}
        pipeline = cli._open_pipeline(get_settings())
        try:
            assert pipeline.claim_store.count() == 3
        finally:
            cli._close(pipeline)
    finally:
        get_settings.cache_clear()


def test_a_checkpoint_never_counts_a_batch_read_ahead_but_not_stored(
    embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process, with the next batch embedded while one is stored: the store fails on the second batch,
    and the progress file must name only the records of the first, which is on disk."""
    from factmem.store.edge import EdgeClaimStore

    monkeypatch.setattr(embedder, "max_concurrent_calls", 2)  # embeds one batch ahead, as the CLI does
    monkeypatch.setattr(cli, "get_shared_embedding_model", lambda settings: embedder)
    monkeypatch.setattr(cli, "configure_logging", lambda *args: None)
    monkeypatch.setattr(cli, "CHECKPOINT_RECORDS", 4)
    upsert = EdgeClaimStore.upsert
    upserts = 0

    def failing_second(store: EdgeClaimStore, points: Any) -> None:
        nonlocal upserts
        upserts += 1
        if upserts == 2:
            raise RuntimeError("the disk went away")
        upsert(store, points)

    monkeypatch.setattr(EdgeClaimStore, "upsert", failing_second)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EMBEDDING_BATCH_SIZE", "1")  # batches of 4 records
    rows = [
        {"claim": f"The Ostrey ferry made {n + 2} crossings on its first day.", "verdict": "True"}
        for n in range(10)
    ]
    path = write_jsonl(tmp_path / "ferries.jsonl", rows)
    get_settings.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="the disk went away"):
            cli.main(["ingest", str(path), "--no-index"])
        monkeypatch.setattr(EdgeClaimStore, "upsert", upsert)
        pipeline = cli._open_pipeline(get_settings())
        try:
            stored = pipeline.claim_store.count()
        finally:
            cli._close(pipeline)
        assert stored == 4
        assert cli._Progress(get_settings(), path).done() == 4
    finally:
        get_settings.cache_clear()
