#!/usr/bin/env bash
# Makes tests/streaming_clients/python/.venv: a Python 3.9 venv with the
# real NATS Streaming Python client (requirements.txt, from PyPI).
#
#   tests/streaming_clients/python/setup.sh        then
#   tests/streaming_clients/python/.venv/bin/python tests/streaming_clients/python/smoke.py URL CLUSTER_ID
#
# Python 3.9 is taken from $PYTHON39, else python3.9 on PATH, else pyenv's
# newest 3.9.x (this machine image has /root/.pyenv/versions/3.9.18). None of
# the registries reached here serves a CPython 3.9 (Debian 12 ships 3.11;
# PyPI and npm packages of portable Pythons download from GitHub), so with
# none of these the script exits 3 and says so.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
is39() { [[ -x "$1" ]] && [[ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" == 3.9 ]]; }
PY=""
cands=()
[[ -n "${PYTHON39:-}" ]] && cands+=("$PYTHON39")
command -v python3.9 >/dev/null 2>&1 && cands+=("$(command -v python3.9)")
root="$( (pyenv root 2>/dev/null) || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
while IFS= read -r c; do cands+=("$c"); done < <(ls -d "$root"/versions/3.9.*/bin/python3.9 2>/dev/null | sort -rV)
for c in ${cands[@]+"${cands[@]}"}; do
  if is39 "$c"; then PY="$c"; break; fi  # a pyenv shim of a version not selected fails here
done
if [[ -z "$PY" ]]; then
  echo "setup.sh: no working Python 3.9 found (tried: ${cands[*]:-none}; set PYTHON39=/path/to/python3.9)" >&2
  exit 3
fi
if [[ ! -x "$HERE/.venv/bin/python" ]] || [[ "$("$HERE/.venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != 3.9 ]]; then
  rm -rf "$HERE/.venv"
  "$PY" -m venv "$HERE/.venv"
fi
"$HERE/.venv/bin/python" -m pip install -q --disable-pip-version-check -r "$HERE/requirements.txt"
"$HERE/.venv/bin/python" -c 'import stan.aio.client as c, google.protobuf as p, nats.aio.client as n; print("setup.sh: python", __import__("sys").version.split()[0], "asyncio-nats-streaming", c.__version__, "asyncio-nats-client", n.__version__, "protobuf", p.__version__)'
