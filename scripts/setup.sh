#!/usr/bin/env bash
# Installs everything ambit needs on a fresh Debian machine with Node 20, as root:
# Debian packages (scripts/packages.txt), npm packages (lock file), the native addon, the build.
# Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

mapfile -t wanted < <(grep -vE '^\s*(#|$)' scripts/packages.txt)
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    step "missing Debian packages (need root to install): ${missing[*]}"
  else
    step "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ -f native/binding.gyp ]; then
  if [ ! -f native/build/Release/ambit_native.node ] || [ -n "$(find native -path native/build -prune -o \( -newer native/build/Release/ambit_native.node \( -name '*.c*' -o -name '*.h' -o -name binding.gyp \) \) -print 2>/dev/null)" ]; then
    step "building the native addon (node-gyp)"
    npx node-gyp rebuild --directory native --nodedir=/usr --loglevel=error >/dev/null
  fi
fi

step "compiling TypeScript"
npx tsc -p tsconfig.json
node scripts/post-build.mjs
step "ready"
