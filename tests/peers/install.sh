#!/usr/bin/env bash
# Installs the third-party peers the interop tests run against, into folders git ignores:
#   tests/peers/.venv          Python 3.11 venv from requirements.txt (Azure SDKs, pytest)
#   tests/peers/node_modules   azurite, oidc-provider and @azure/mcp from package-lock.json
#   tests/peers/.venv-az       azure-cli from requirements-az.txt (the az interop test)
# Idempotent: each half is skipped when its stamp matches the hash of its requirement list,
# so a re-run takes well under a second. Fails loudly (non-zero) when a registry cannot be
# reached; the interop tests then fail and name this script.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

die() {
    echo "tests/peers/install.sh: $*" >&2
    exit 1
}

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

python_bin="${PORTCULLIS_PYTHON:-}"
if [[ -z "$python_bin" ]]; then
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then
            python_bin="$candidate"
            break
        fi
    done
fi
[[ -n "$python_bin" ]] || die "no python3.11 found; install Python 3.11 (or set PORTCULLIS_PYTHON)"
command -v node >/dev/null 2>&1 || die "node not found; install Node.js 20 or newer"
command -v npm >/dev/null 2>&1 || die "npm not found; install npm"

# --- Python venv --------------------------------------------------------------------------
py_version="$("$python_bin" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
py_stamp_want="$(printf '%s\n%s' "$py_version" "$(hash_of requirements.txt)")"
py_stamp=".venv/.portcullis-stamp"
if [[ -f "$py_stamp" && "$(cat "$py_stamp")" == "$py_stamp_want" ]]; then
    echo "python peers: up to date (.venv, Python $py_version)"
else
    echo "python peers: installing into tests/peers/.venv (Python $py_version)"
    rm -rf .venv
    "$python_bin" -m venv .venv || die "could not create the venv with $python_bin"
    if ! .venv/bin/pip install --disable-pip-version-check --quiet --retries 2 --timeout 30 \
        -r requirements.txt; then
        rm -rf .venv
        die "pip install failed: is the Python package registry reachable? (see the pip output above)"
    fi
    printf '%s' "$py_stamp_want" >"$py_stamp"
fi

# --- Azure CLI venv (its own: azure-cli pins versions the SDK venv does not) ----------------
az_stamp_want="$(printf '%s\n%s' "$py_version" "$(hash_of requirements-az.txt)")"
az_stamp=".venv-az/.portcullis-stamp"
if [[ -f "$az_stamp" && "$(cat "$az_stamp")" == "$az_stamp_want" ]]; then
    echo "azure cli: up to date (.venv-az)"
else
    echo "azure cli: installing into tests/peers/.venv-az (about a minute)"
    rm -rf .venv-az
    "$python_bin" -m venv .venv-az || die "could not create the az venv with $python_bin"
    if ! .venv-az/bin/pip install --disable-pip-version-check --quiet --retries 2 --timeout 30 \
        -r requirements-az.txt; then
        rm -rf .venv-az
        die "pip install of azure-cli failed: is the Python package registry reachable?"
    fi
    [[ -x .venv-az/bin/az ]] || die "azure-cli installed without its az entry point"
    printf '%s' "$az_stamp_want" >"$az_stamp"
fi

# --- Node modules -------------------------------------------------------------------------
node_stamp_want="$(printf '%s\n%s' "$(node --version)" "$(hash_of package.json package-lock.json)")"
node_stamp="node_modules/.portcullis-stamp"
if [[ -f "$node_stamp" && "$(cat "$node_stamp")" == "$node_stamp_want" ]]; then
    echo "node peers: up to date (node_modules, node $(node --version))"
else
    echo "node peers: installing azurite, oidc-provider and @azure/mcp into tests/peers/node_modules"
    if ! npm ci --no-audit --no-fund --ignore-scripts --loglevel=error; then
        rm -rf node_modules
        die "npm ci failed: is the npm registry reachable? (see the npm output above)"
    fi
    [[ -f node_modules/azurite/dist/src/blob/main.js ]] || die "azurite installed without its blob server"
    [[ -d node_modules/oidc-provider ]] || die "oidc-provider did not install"
    if [[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]]; then
        [[ -x node_modules/@azure/mcp-linux-x64/dist/azmcp ]] || die "@azure/mcp installed without its linux-x64 server"
    fi
    printf '%s' "$node_stamp_want" >"$node_stamp"
fi

echo "peers ready: $here/.venv/bin/python, node $here/node_modules"
