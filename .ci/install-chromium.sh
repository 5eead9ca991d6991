#!/bin/sh
# Chromium for test/browser.test.ts (playwright-core drives Debian's chromium; no browser download).
# Installs it only when `which chromium` finds nothing.
set -eu
if which chromium >/dev/null 2>&1; then
  echo "chromium already installed: $(chromium --version 2>/dev/null || which chromium)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y chromium
echo "installed $(chromium --version 2>/dev/null || which chromium)"
