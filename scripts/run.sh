#!/usr/bin/env bash
# Starts factmem on the embedded defaults (Qdrant Edge under ./data, local model, no keys, no network).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements.txt
exec .venv/bin/python backend/api_server.py "$@"
