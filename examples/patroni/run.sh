#!/bin/sh
# pgtune's settings for a Patroni cluster: render them (--format patroni), merge them into the
# node's patroni.yml and let Patroni validate the result.
#
#   examples/patroni/run.sh [OUTPUT] [-- PGTUNE_FLAGS...]
#   examples/patroni/run.sh patroni.yml -- --memory 32GB --cpus 8 --storage ssd --pg-version 17
#
# PGTUNE (default: pgtune) and PYTHON (default: the python next to it) can be overridden;
# PATRONI_* environment variables override the base file as they do for Patroni itself.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-patroni.yml}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
pgtune=${PGTUNE:-pgtune}
python=${PYTHON:-$(dirname "$(command -v "$pgtune")")/python}
[ -x "$python" ] || python=python3

"$pgtune" generate --quiet --format patroni "$@" > "$out.pgtune"
"$python" - "$here/patroni.base.yml" "$out.pgtune" "$out" <<'PY'
import sys
import yaml

def merge(base, extra):
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base

base_file, extra_file, out_file = sys.argv[1:]
with open(base_file) as f:
    config = yaml.safe_load(f)
with open(extra_file) as f:
    merge(config, yaml.safe_load(f))
with open(out_file, "w") as f:
    yaml.safe_dump(config, f, sort_keys=False)
PY
rm -f "$out.pgtune"
# -i: the listen ports may be taken on this machine (a running server); the DCS hosts must answer.
patroni --validate-config -i "$out"
echo "$out: valid Patroni configuration"
