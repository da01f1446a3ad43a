#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests of the web page (tests/web), once per machine.
# Playwright drives this system browser; nothing downloads a browser build. Where installing is impossible
# (no apt-get, not root and no sudo), it says so and the browser tests skip with that reason.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser: no apt-get on this machine; the browser tests will be skipped" >&2
  exit 0
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "install_browser: not root and no sudo; the browser tests will be skipped" >&2
    exit 0
  fi
fi
echo "install_browser: installing Debian's chromium (first run on this machine only)" >&2
for attempt in 1 2; do
  if "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
      --no-install-recommends chromium fonts-dejavu-core >/dev/null; then
    exit 0
  fi
  echo "install_browser: apt-get failed (attempt $attempt)" >&2
  sleep 5
done
exit 1
