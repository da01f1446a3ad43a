"""A stand-in for the system factmem replaces, as the load test sees it: ``POST /verify`` with that system's
field names and no ``request_id``, and a ``/health`` that says only "ok" (no memory figures, no ``/ready``).

It speaks the protocol for real (uvicorn on loopback, ``HOST``/``PORT`` from the environment); its verdicts
are not the point: the load test must drive it and measure its memory from ``/proc``.
"""

from __future__ import annotations

import os
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI()
seen: dict[str, int] = {}


class VerifyRequest(BaseModel):
    raw_text: str


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/verify")
def verify(request: VerifyRequest) -> dict[str, Any]:
    text = request.raw_text.strip()
    if not any(c.isalpha() for c in text) or len(request.raw_text) > 2_000:
        raise HTTPException(status_code=400, detail="unusable claim")
    key = text.lower()
    seen[key] = seen.get(key, 0) + 1
    return {
        "normalized_claim": {"normalized_text": text},
        "cache_hit": seen[key] > 1,
        "verification_result": {"verdict": "Uncertain", "confidence": 0.0},
        "seen_count": seen[key],
    }


if __name__ == "__main__":
    uvicorn.run(app, host=os.environ["HOST"], port=int(os.environ["PORT"]), log_level="warning")
