"""The obvious stack, kept only as the baseline that the benchmark measures factmem against.

What a first version of a fact-checking API usually looks like: FastAPI, FastEmbed with its defaults
(default batch size, onnxruntime's CPU memory arena on, default threads, 512-token truncation),
qdrant-client's in-process ``:memory:`` mode holding the claims, every claim embedded at startup, and
``/verify`` = embed + search + upsert or ``set_payload``. No memory cleanup, no locks and no admission
control: that is the point of the comparison. qdrant-client's local mode is not thread-safe and FastAPI runs
sync routes in a thread pool, so under concurrent load some requests fail; the benchmark counts them.

Never deploy this. The benchmark starts it (``python -m factmem_bench.obvious_stack_app``) on loopback with,
in the environment:

    OBVIOUS_MODEL_DIR     a FastEmbed model directory (the benchmark lays it out with the shipped int8
                          MiniLM and a tokenizer limit of 512)
    OBVIOUS_CLAIM_FILES   JSONL files (``claim``, optional ``verdict``), separated by os.pathsep
    OBVIOUS_CLAIM_LIMIT   at most this many claims from each file (default: all)
    HOST, PORT            where to listen (default 127.0.0.1:8001)
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException
from fastembed import TextEmbedding
from fastembed.common.model_description import ModelSource, PoolingType
from pydantic import BaseModel
from qdrant_client import QdrantClient, models

MODEL_NAME = "obvious-stack/all-MiniLM-L6-v2-int8"
COLLECTION = "claims"
DIM = 384
TOP_K = 10
CACHE_SIMILARITY = 0.85
MAX_CLAIM_CHARS = 2_000


class VerifyRequest(BaseModel):
    raw_text: str


def read_claims(paths: list[Path], limit: int | None) -> list[dict[str, Any]]:
    """``claim`` (and ``verdict``, default Uncertain) of the first ``limit`` rows of each file."""
    claims: list[dict[str, Any]] = []
    for path in paths:
        with path.open(encoding="utf-8") as rows:
            for line in itertools.islice(rows, limit):
                row = json.loads(line)
                if isinstance(row.get("claim"), str) and row["claim"].strip():
                    claims.append(
                        {"claim": row["claim"].strip(), "verdict": row.get("verdict") or "Uncertain"}
                    )
    return claims


def _status_mb(path: str = "/proc/self/status") -> dict[str, float | None]:
    fields = {"VmRSS": None, "RssAnon": None, "VmHWM": None}
    try:
        with open(path, encoding="ascii") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in fields:
                    fields[name] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return {"memory_mb": fields["VmRSS"], "rss_anon_mb": fields["RssAnon"], "peak_rss_mb": fields["VmHWM"]}


def _load_model(model_dir: str) -> TextEmbedding:
    TextEmbedding.add_custom_model(
        model=MODEL_NAME,
        pooling=PoolingType.MEAN,
        normalization=True,
        sources=ModelSource(hf=MODEL_NAME),
        dim=DIM,
        model_file="model.onnx",
    )
    return TextEmbedding(model_name=MODEL_NAME, specific_model_path=model_dir)  # every other option: default


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    model = _load_model(os.environ["OBVIOUS_MODEL_DIR"])
    client = QdrantClient(location=":memory:")
    client.create_collection(
        COLLECTION, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    )
    files = [Path(p) for p in os.environ.get("OBVIOUS_CLAIM_FILES", "").split(os.pathsep) if p]
    limit = int(os.environ["OBVIOUS_CLAIM_LIMIT"]) if os.environ.get("OBVIOUS_CLAIM_LIMIT") else None
    claims = read_claims(files, limit)
    vectors = model.embed([c["claim"] for c in claims])  # FastEmbed's default batch size (256)
    client.upsert(
        COLLECTION,
        points=[
            models.PointStruct(
                id=str(uuid.uuid4()), vector=vector.tolist(), payload=claim | {"seen_count": 1}
            )
            for claim, vector in zip(claims, vectors, strict=True)
        ],
    )
    truncation = getattr(getattr(model.model, "tokenizer", None), "truncation", None) or {}
    app.state.model, app.state.client = model, client
    app.state.info = {"claims_loaded": len(claims), "max_tokens": truncation.get("max_length")}
    yield
    client.close()


app = FastAPI(title="obvious stack (baseline for the benchmark)", lifespan=lifespan)


@app.get("/health")
async def health() -> dict[str, Any]:
    """RSS of this process."""
    return {"status": "healthy", **_status_mb(), **app.state.info}


@app.get("/ready")
async def ready() -> dict[str, bool]:
    """Ready as soon as the app serves: the claims are embedded before uvicorn accepts connections."""
    return {"ready": True}


@app.post("/verify")
def verify(request: VerifyRequest) -> dict[str, Any]:
    """Embed, search, then count the claim as seen again or store it."""
    text = request.raw_text.strip()
    if not text or not any(c.isalpha() for c in text) or len(request.raw_text) > MAX_CLAIM_CHARS:
        raise HTTPException(status_code=400, detail="unusable claim")
    model: TextEmbedding = app.state.model
    client: QdrantClient = app.state.client
    vector = next(iter(model.embed([text]))).tolist()
    hits = client.query_points(COLLECTION, query=vector, limit=TOP_K, with_payload=True).points
    if hits and hits[0].score >= CACHE_SIMILARITY:
        top = hits[0]
        payload = top.payload or {}
        client.set_payload(
            COLLECTION, payload={"seen_count": payload.get("seen_count", 1) + 1}, points=[top.id]
        )
        verdict, confidence, cache_hit = payload.get("verdict", "Uncertain"), top.score, True
    else:
        point = models.PointStruct(
            id=str(uuid.uuid4()),
            vector=vector,
            payload={"claim": text, "verdict": "Uncertain", "seen_count": 1},
        )
        client.upsert(COLLECTION, points=[point])
        verdict, confidence, cache_hit = "Uncertain", 0.0, False
    return {
        "request_id": uuid.uuid4().hex,
        "cache_hit": cache_hit,
        "verification_result": {"verdict": verdict, "confidence": confidence},
    }


if __name__ == "__main__":
    uvicorn.run(
        app,
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8001")),
        workers=1,
        log_level="warning",
        access_log=False,  # factmem runs without an access log too: measure the stacks, not the logging
    )
