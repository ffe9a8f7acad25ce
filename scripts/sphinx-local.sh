#!/usr/bin/env bash
# A local Sphinx/Manticore cluster for zhsearch's SphinxQL backend, on loopback.
#
#   scripts/sphinx-local.sh up DIR [SHARDS]   writes configs for SHARDS (default 2) real-time
#       shards, starts one searchd per shard, waits until each answers, and prints the
#       backend URL (sphinxql://127.0.0.1:PORT/dist) on stdout.
#   scripts/sphinx-local.sh down DIR          stops them by their pid files.
#
# Shard i is table `shardI` in searchd i. Searchd 0 also serves the distributed table `dist`:
# `local = shard0` and `agent = 127.0.0.1:API:shardI` for the others. Every searchd listens
# twice: the SphinxAPI port (agents) and, on the port after it, SphinxQL (the MySQL
# protocol), which is how zhsearch writes each shard at its own address.
set -euo pipefail

die() { echo "sphinx-local: $*" >&2; exit 2; }

# Tokens are zhsearch's own, space-joined: ASCII letters and digits, `_` (its escape of other
# characters), and the CJK ideographs (URO, compatibility, extensions A to F; Sphinx 2.2 stops at U+2FFFF, so later ones are escaped like other characters); no n-grams,
# no morphology, one-character tokens kept.
CHARSET='0..9, a..z, _, U+3400..U+4DBF, U+4E00..U+9FFF, U+F900..U+FAFF, U+20000..U+2FFFF'

table() { # NAME DATA
    cat <<EOF
index $1
{
    type = rt
    path = $2
    rt_field = chars
    rt_field = words
    rt_field = titlechars
    rt_attr_uint = isfile
    rt_attr_uint = line_start
    rt_attr_uint = line_end
    rt_attr_uint = paragraph
    rt_attr_uint = col_start
    rt_attr_uint = col_end
    rt_attr_bigint = filekey
    rt_attr_string = source
    rt_attr_string = text
    rt_attr_string = visible
    rt_attr_string = wordlist
    rt_attr_string = title
    rt_attr_string = author
    rt_attr_string = pubdate
    rt_attr_string = url
    rt_attr_string = encoding
    rt_mem_limit = 256M
    dict = keywords
    index_field_lengths = 1
    min_word_len = 1
    charset_table = $CHARSET
}
EOF
}

free_ports() { # COUNT: pairs of free consecutive loopback ports, first of each
    python3 - "$1" <<'EOF'
import socket, sys
got = []
while len(got) < int(sys.argv[1]):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1))
        got.append(p)
    except OSError:
        pass
    a.close(); b.close()
print(" ".join(map(str, got)))
EOF
}

answers() { # PORT: whether searchd answers SphinxQL there
    python3 - "$1" <<'EOF'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
    s.settimeout(1)
    ok = len(s.recv(4)) == 4  # the MySQL handshake's header
    s.close()
except OSError:
    ok = False
sys.exit(0 if ok else 1)
EOF
}

up() {
    local dir=$1 shards=${2:-2}
    [[ $shards =~ ^[1-9][0-9]*$ ]] || die "SHARDS must be a positive number, not $shards"
    command -v searchd >/dev/null || die "searchd is not installed (apt-get install sphinxsearch)"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [[ -e $dir/ports ]] && die "$dir already holds a cluster (run: $0 down $dir)"
    local ports
    read -r -a ports <<<"$(free_ports "$shards")"
    echo "${ports[*]}" >"$dir/ports"
    for ((i = 0; i < shards; i++)); do
        local d=$dir/s$i api=${ports[$i]}
        mkdir -p "$d/data" "$d/binlog"
        {
            table "shard$i" "$d/data/shard$i"
            if ((i == 0)); then
                echo "index dist"
                echo "{"
                echo "    type = distributed"
                echo "    local = shard0"
                for ((j = 1; j < shards; j++)); do
                    echo "    agent = 127.0.0.1:${ports[$j]}:shard$j"
                done
                echo "    agent_connect_timeout = 1000"
                echo "    agent_query_timeout = 30000"
                echo "}"
            fi
            cat <<EOF
searchd
{
    listen = 127.0.0.1:$api
    listen = 127.0.0.1:$((api + 1)):mysql41
    log = $d/searchd.log
    query_log = $d/query.log
    pid_file = $d/searchd.pid
    binlog_path = $d/binlog
    workers = threads
    read_timeout = 5
    max_packet_size = 32M
}
EOF
        } >"$d/sphinx.conf"
        searchd --config "$d/sphinx.conf" >"$d/start.log" 2>&1 ||
            die "searchd $i did not start: $(tail -n 3 "$d/start.log" | tr '\n' ' ')"
    done
    for ((i = 0; i < shards; i++)); do
        local tries=0
        until answers $((ports[i] + 1)); do
            ((tries++ < 100)) || die "searchd $i does not answer on 127.0.0.1:$((ports[i] + 1))"
            sleep 0.1
        done
    done
    echo "sphinxql://127.0.0.1:$((ports[0] + 1))/dist"
}

down() {
    local dir=$1
    [[ -d $dir ]] || die "no cluster in $dir"
    for pidfile in "$dir"/s*/searchd.pid; do
        [[ -e $pidfile ]] || continue
        local pid
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        rm -f "$pidfile"
    done
    rm -f "$dir/ports"
}

case "${1:-}" in
up) [[ $# -ge 2 ]] || die "usage: $0 up DIR [SHARDS]"; up "$2" "${3:-2}" ;;
down) [[ $# -ge 2 ]] || die "usage: $0 down DIR"; down "$2" ;;
*) die "usage: $0 up DIR [SHARDS] | $0 down DIR" ;;
esac
