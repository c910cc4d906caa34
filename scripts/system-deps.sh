#!/usr/bin/env bash
# System packages the test suite needs beyond Python: headless Chromium and its WebDriver (Debian's
# `chromium` + `chromium-driver`), used by tests/test_site.py to open the record site from file://.
# Idempotent and quiet: does nothing when both are present. Installs as root, or through sudo when it can
# do so without a password; otherwise says so and returns 0 (the browser test then skips with the reason).
set -uo pipefail

wanted=(chromium chromium-driver)
have_all() { [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; }

if have_all; then
  exit 0
fi
if [[ "$(id -u)" == "0" ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "system-deps: ${wanted[*]} missing and no root/sudo: the browser test will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "system-deps: installing ${wanted[*]} (apt-get)" >&2
log="$(mktemp)"
# An update that fails on some other source must not stop the install from the lists it did fetch.
"${as_root[@]}" apt-get update -qq >"$log" 2>&1 || true
if ! "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${wanted[@]}" >>"$log" 2>&1; then
  echo "system-deps: apt-get could not install ${wanted[*]} (offline?); last lines:" >&2
  tail -n 5 "$log" >&2
  rm -f "$log"
  exit 0
fi
rm -f "$log"
have_all || echo "system-deps: installed, but /usr/bin/chromium or /usr/bin/chromedriver is still missing" >&2
exit 0
