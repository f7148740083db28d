#!/bin/sh
# pgtune's settings for a CloudNativePG cluster: render them (--format cnpg) for the pod's
# memory and CPUs, and merge spec.resources and spec.postgresql.parameters into cluster.yaml.
#
#   examples/cnpg/run.sh [OUTPUT] [-- PGTUNE_FLAGS...]
#   examples/cnpg/run.sh cluster-tuned.yaml -- --memory 16GB --cpus 4 --storage ssd --pg-version 17
#   kubectl apply -f cluster-tuned.yaml
#
# For a running Cluster, the fragment alone is a merge patch:
#   pgtune generate --format cnpg --memory 16GB --cpus 4 ... > tune.yaml
#   kubectl patch cluster demo --type merge --patch-file tune.yaml
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-cluster-tuned.yaml}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
pgtune=${PGTUNE:-pgtune}
python=${PYTHON:-$(dirname "$(command -v "$pgtune")")/python}
[ -x "$python" ] || python=python3

"$pgtune" generate --quiet --format cnpg "$@" > "$out.pgtune"
"$python" - "$here/cluster.yaml" "$out.pgtune" "$out" <<'PY'
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
    cluster = yaml.safe_load(f)
with open(extra_file) as f:
    merge(cluster, yaml.safe_load(f))
with open(out_file, "w") as f:
    yaml.safe_dump(cluster, f, sort_keys=False)
PY
rm -f "$out.pgtune"
echo "$out: Cluster $(sed -n 's/^  name: //p' "$out" | head -1) with pgtune's parameters and resources"
