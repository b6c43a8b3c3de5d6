#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser tests (tests/dashboard/).
#
#   bash .ci/browser.sh
#
# Installs the chromium package when /usr/bin/chromium is missing (needs root,
# as CI is).  The tests drive it with the PyPI `playwright` package (the
# project's dev extra) through executable_path=/usr/bin/chromium: Playwright's
# own browser download is never used (it cannot work on a closed network).
# AGENTSIGHT_CHROMIUM points the tests at another binary.
set -euo pipefail

chromium="${AGENTSIGHT_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "browser.sh: $chromium is missing and this is not root: apt-get install chromium" >&2
        exit 1
    fi
    echo "browser.sh: installing Chromium from Debian's packages" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
# The Debian wrapper script prints a harmless shell warning on some machines; keep only the version.
echo "browser.sh: $("$chromium" --version 2>/dev/null | head -n 1)" >&2
