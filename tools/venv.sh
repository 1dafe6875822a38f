# Sourced by tools/demo and tools/test: make .venv when it is missing and
# install sipsec into it (editable), with the extras named in $SIPSEC_EXTRAS.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi
STAMP="$VENV/.sipsec-installed-${SIPSEC_EXTRAS:-base}"
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
    spec="$ROOT"
    [ -n "${SIPSEC_EXTRAS:-}" ] && spec="$ROOT[$SIPSEC_EXTRAS]"
    "$VENV/bin/python" -m pip install -q -e "$spec"
    touch "$STAMP"
fi
