#!/usr/bin/env bash
# Index throughput, size and search latency of the local index and of local SphinxQL clusters
# of 1, 2 and 4 shards (scripts/sphinx-local.sh), on one corpus: the README's "Beyond one
# machine" table.
#
#   scripts/sphinx-bench.sh CORPUS QUERIES.jsonl [SHARDS...]
#
# Latency is the eval kit's whole-process time per query (one query at a time); sizes are the
# index folder, and the shards' RAM and disk bytes as `SHOW INDEX … STATUS` reports them (with
# the `mysql` client, when installed).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=$1 queries=$2
shift 2
shards=("${@:-1 2 4}")
read -r -a shards <<<"${shards[*]}"
eval_kit=${EVAL:-../shared/eval}
bin=target/release/zhsearch
work=$(mktemp -d)
trap 'for d in "$work"/c*; do [[ -d $d ]] && scripts/sphinx-local.sh down "$d" >/dev/null 2>&1; done; rm -rf "$work"' EXIT
latency() {
    python3 "$eval_kit/run.py" --set "$queries" --corpus "$corpus" --system "$1" --jobs 1 2>&1 |
        sed -n '/latency/p;/^all/p'
}
echo "== local"
/usr/bin/time -f "index: %e s wall" $bin index --corpus "$corpus" --index "$work/local" -q
du -sh "$work/local"
latency "$bin search {query} --index $work/local --json --limit {k}"
for n in "${shards[@]}"; do
    url=$(scripts/sphinx-local.sh up "$work/c$n" "$n")
    echo "== $n shards"
    /usr/bin/time -f "index: %e s wall" $bin index --backend "$url" --corpus "$corpus" --index "$work/i$n" -q
    if command -v mysql >/dev/null; then
        total=0
        for ((i = 0; i < n; i++)); do
            port=$(($(cut -d' ' -f$((i + 1)) "$work/c$n/ports") + 1))
            bytes=$(mysql -h127.0.0.1 -P"$port" --protocol=tcp -N -e "SHOW INDEX shard$i STATUS" |
                awk '$1 == "ram_bytes" || $1 == "disk_bytes" { s += $2 } END { print s }')
            total=$((total + bytes))
        done
        echo "size: $((total / 1048576)) MB (RAM and disk chunks of all shards)"
    fi
    latency "$bin search {query} --backend $url --index $work/i$n --json --limit {k}"
    scripts/sphinx-local.sh down "$work/c$n"
done
