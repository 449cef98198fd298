# shellcheck shell=bash
# Issue 12's scenarios: backends over TLS and HTTP/2. Opt-in (--scenarios), not in the default set.
#
#   grpc                      gRPC unary calls (h2load, gRPC-framed POST body, -c16 -m10) over h2c to each proxy,
#                             which speaks HTTP/2 to a Grpc.AspNetCore backend (bench/tools/grpc-origin, h2c):
#                             Tether protocol "http2" + http:// destination, nginx grpc_pass, HAProxy proto h2.
#   httpsbackend              the usual 19-byte page (wrk -c64, HTTP/1.1 to the proxy), from an nginx origin over
#                             TLS (test CA made at run time), upstream keep-alive on.
#   httpsbackend-nokeepalive  the same with upstream keep-alive off: every request is a new TLS connection, and
#                             the origin's access log ($ssl_session_reused, first request of each connection
#                             only) tells how many of those handshakes resumed a session.
#
# Each proxy gets its own instance per scenario ($p-grpc, $p-tlsb, $p-tlsb-nka), started only when the
# scenario is selected, so a Tether that refuses one of these configs still runs every other scenario. The
# backend itself, without a proxy, is measured too ("direct") for grpc and httpsbackend.

BACKEND_SCENARIOS="grpc httpsbackend httpsbackend-nokeepalive"
BACKEND_TLS_NAME=backend.tether.test     # the name in the origin's certificate; SNI and verified name
GRPC_PATH=/tetherbench.Echo/Say
GRPC_PAYLOAD_BYTES=32
GRPC_EXE=""
ORIGIN_TLS_PORT=""                       # set only when an httpsbackend scenario runs (write_origin_config)
GRPC_ORIGIN_PORT="" GRPC_COUNT_PORT=""
declare -A GRPC_PORT=() TLSB_PORT=() TLSB_NKA_PORT=() BACKEND_ADMIN_PORT=()
declare -A SKIP=()   # "SCENARIO PROXY" -> why PROXY has no figure in SCENARIO (its instance refused or failed)
NEED_GRPC=0
NEED_TLS_ORIGIN=0

# backends_selected SCENARIO...: which backends the selected scenarios need.
backends_selected() {
    local s
    for s in "$@"; do
        case $s in
            grpc) NEED_GRPC=1 ;;
            httpsbackend | httpsbackend-nokeepalive) NEED_TLS_ORIGIN=1 ;;
        esac
    done
}

is_backend_scenario() { [[ " $BACKEND_SCENARIOS " == *" $1 "* ]]; }

# has_direct SCENARIO: the backend without a proxy is measured too (not for keep-alive off: a client's own
# new TLS connection per request is not what the proxies' rows measure).
has_direct() { [ "$1" = grpc ] || [ "$1" = httpsbackend ]; }

# assign_backend_ports: base+82..+88 for the backends and Tether's admin ports, base+114..+116 per proxy.
assign_backend_ports() {
    local -a ports=()
    local i=0 p
    for p in tether nginx haproxy; do
        GRPC_PORT[$p]=$((PORT_BASE + 114 + i * 10))
        TLSB_PORT[$p]=$((PORT_BASE + 115 + i * 10))
        TLSB_NKA_PORT[$p]=$((PORT_BASE + 116 + i * 10))
        i=$((i + 1))
    done
    BACKEND_ADMIN_PORT[grpc]=$((PORT_BASE + 86))
    BACKEND_ADMIN_PORT[tlsb]=$((PORT_BASE + 87))
    BACKEND_ADMIN_PORT[tlsb-nka]=$((PORT_BASE + 88))
    if [ "$NEED_TLS_ORIGIN" = 1 ]; then
        ORIGIN_TLS_PORT=$((PORT_BASE + 82))
        TLSB_PORT[direct]=$ORIGIN_TLS_PORT
        ports+=("$ORIGIN_TLS_PORT" "${TLSB_PORT[tether]}" "${TLSB_PORT[nginx]}" "${TLSB_PORT[haproxy]}"
            "${TLSB_NKA_PORT[tether]}" "${TLSB_NKA_PORT[nginx]}" "${TLSB_NKA_PORT[haproxy]}"
            "${BACKEND_ADMIN_PORT[tlsb]}" "${BACKEND_ADMIN_PORT[tlsb-nka]}")
    fi
    if [ "$NEED_GRPC" = 1 ]; then
        GRPC_ORIGIN_PORT=$((PORT_BASE + 84))
        GRPC_COUNT_PORT=$((PORT_BASE + 85))
        GRPC_PORT[direct]=$GRPC_ORIGIN_PORT
        ports+=("$GRPC_ORIGIN_PORT" "$GRPC_COUNT_PORT" "${GRPC_PORT[tether]}" "${GRPC_PORT[nginx]}"
            "${GRPC_PORT[haproxy]}" "${BACKEND_ADMIN_PORT[grpc]}")
    fi
    local port
    for port in "${ports[@]}"; do
        port_free "$port" || die "port $port on 127.0.0.1 is in use; set BENCH_PORT_BASE to another base"
    done
}

# make_backend_fixtures: a test CA and the origin's certificate for $BACKEND_TLS_NAME signed by it (run
# directory only, made anew each run), and the gRPC request body.
make_backend_fixtures() {
    local d="$RUN_DIR/backend-tls"
    if [ "$NEED_TLS_ORIGIN" = 1 ]; then
        mkdir -p "$d"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -subj "/CN=Tether bench test CA" -addext basicConstraints=critical,CA:TRUE \
            -addext keyUsage=critical,keyCertSign,cRLSign \
            -keyout "$d/ca-key.pem" -out "$d/ca.pem" >/dev/null 2>&1 || die "openssl: test CA"
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$BACKEND_TLS_NAME" \
            -keyout "$d/key.pem" -out "$d/req.csr" >/dev/null 2>&1 || die "openssl: origin key"
        printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
            "$BACKEND_TLS_NAME" >"$d/ext.cnf"
        openssl x509 -req -in "$d/req.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial -days 2 \
            -extfile "$d/ext.cnf" -out "$d/cert.pem" >/dev/null 2>&1 || die "openssl: origin certificate"
        openssl verify -CAfile "$d/ca.pem" "$d/cert.pem" >/dev/null 2>&1 || die "the origin certificate does not verify"
        : >"$RUN_DIR/origin-tls.log"
    fi
    if [ "$NEED_GRPC" = 1 ]; then
        # One gRPC message: flag 0 (not compressed), 4-byte big-endian length, then the protobuf EchoMessage
        # { bytes payload = 1 } with GRPC_PAYLOAD_BYTES letters (tag 0x0a, one-byte length).
        python3 - "$GRPC_PAYLOAD_BYTES" >"$RUN_DIR/grpc-body.bin" <<'PY'
import struct, sys
n = int(sys.argv[1])
assert n < 128
msg = b"\x0a" + bytes([n]) + bytes(ord("a") + i % 26 for i in range(n))
sys.stdout.buffer.write(b"\x00" + struct.pack(">I", len(msg)) + msg)
PY
    fi
}

# origin_tls_server: the origin's TLS server block (HTTP/1.1), written by write_origin_config when
# ORIGIN_TLS_PORT is set. Logs the first request of each connection only: one line per handshake,
# "r" resumed or "." full ($ssl_session_reused).
origin_tls_server() {
    local d="$RUN_DIR/backend-tls"
    cat <<CONF
    map \$connection_requests \$bench_new_connection { 1 1; default 0; }
    log_format bench_tls '\$ssl_session_reused \$ssl_protocol';
    server {
        listen 127.0.0.1:$ORIGIN_TLS_PORT ssl backlog=4096;
        ssl_certificate $d/cert.pem;
        ssl_certificate_key $d/key.pem;
        # nginx 1.22's default leaves TLS 1.3 out; every proxy here speaks it.
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:BENCH_TLS:10m;
        ssl_session_timeout 1h;
        access_log $RUN_DIR/origin-tls.log bench_tls if=\$bench_new_connection;
        location = / { return 200 "$ORIGIN_BODY"; }
    }
CONF
}

# build_grpc_origin: Release publish of bench/tools/grpc-origin into bench/.build/grpc-origin (skipped with
# --no-build when a build is there). Returns non-zero when there is none.
build_grpc_origin() {
    GRPC_EXE="$BENCH_DIR/.build/grpc-origin/grpc-origin"
    if [ "$BUILD" = 0 ] && [ -x "$GRPC_EXE" ]; then
        return 0
    fi
    local started=$SECONDS
    log "building the gRPC origin (bench/tools/grpc-origin, Release)"
    rm -rf "$BENCH_DIR/.build/grpc-origin"
    if ! DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 timeout 600 dotnet publish "$BENCH_DIR/tools/grpc-origin" \
        -c Release -o "$BENCH_DIR/.build/grpc-origin" >"$RUN_DIR/grpc-origin-build.log" 2>&1; then
        tail -n 20 "$RUN_DIR/grpc-origin-build.log" >&2
        return 1
    fi
    log "built the gRPC origin in $((SECONDS - started)) s"
}

start_grpc_origin() {
    build_grpc_origin || die "the gRPC origin did not build (see $RUN_DIR/grpc-origin-build.log)"
    start_server grpc-origin "$GRPC_EXE" serve "$GRPC_ORIGIN_PORT" "$GRPC_COUNT_PORT"
    SERVER_URL[grpc-origin]="http://127.0.0.1:$GRPC_COUNT_PORT/count"
    wait_http "http://127.0.0.1:$GRPC_COUNT_PORT/count" 20 || die "the gRPC origin did not answer"
    local out
    out=$(grpc_call "http://127.0.0.1:$GRPC_ORIGIN_PORT") || die "the gRPC origin's own call failed: $out"
}

# grpc_call URL: one real unary call with Grpc.Net.Client; prints "ok" or the gRPC status it got.
grpc_call() {
    timeout --kill-after=2 20 "$GRPC_EXE" call "$1" "$GRPC_PAYLOAD_BYTES" 2>&1 | tail -n 3
    return "${PIPESTATUS[0]}"
}

# grpc_counts: "CALLS CONNECTIONS" the gRPC origin has served and accepted so far.
grpc_counts() {
    curl -s --max-time 2 "http://127.0.0.1:$GRPC_COUNT_PORT/count" || echo "0 0"
}

# tls_log_lines: handshakes logged by the origin's TLS server so far.
tls_log_lines() {
    [ -f "$RUN_DIR/origin-tls.log" ] && wc -l <"$RUN_DIR/origin-tls.log" || echo 0
}

# tls_reuse_since LINES: "FULL RESUMED PROTOCOL" among the handshakes logged after the first LINES
# (PROTOCOL: the most frequent one, "-" if none).
tls_reuse_since() {
    tail -n +$(($1 + 1)) "$RUN_DIR/origin-tls.log" | awk '$1 == "r" {r++} $1 == "." {f++} {p[$2]++}
        END {best = "-"; for (k in p) if (p[k] > p[best]) best = k; print f + 0, r + 0, best}'
}

start_backends() {
    [ "$NEED_GRPC" = 1 ] && start_grpc_origin
    if [ "$NEED_TLS_ORIGIN" = 1 ]; then
        local got
        got=$(curl -s --max-time 5 --cacert "$RUN_DIR/backend-tls/ca.pem" \
            --resolve "$BACKEND_TLS_NAME:$ORIGIN_TLS_PORT:127.0.0.1" "https://$BACKEND_TLS_NAME:$ORIGIN_TLS_PORT/") || true
        [ "$got" = "$(printf '%b' "$ORIGIN_BODY")" ] || die "the origin's TLS server answered '${got:0:60}' (verified with the test CA)"
    fi
    return 0
}

# backend_instance_names SCENARIO: the instance name suffixes a selected scenario needs.
backend_variants() {
    local s variants=""
    for s in "${LOAD_SCENARIOS[@]}"; do
        case $s in
            grpc) variants+=" grpc" ;;
            httpsbackend) variants+=" tlsb" ;;
            httpsbackend-nokeepalive) variants+=" tlsb-nka" ;;
        esac
    done
    echo "$variants"
}

variant_scenario() {
    case $1 in
        grpc) echo grpc ;;
        tlsb) echo httpsbackend ;;
        tlsb-nka) echo httpsbackend-nokeepalive ;;
    esac
}

# start_backend_instances PROXY: one instance per selected backend scenario. A proxy that refuses its config,
# does not start or does not carry the scenario gets a SKIP entry (Tether) or stops the run (nginx, HAProxy).
start_backend_instances() {
    local p=$1 v scenario why
    for v in $(backend_variants); do
        scenario=$(variant_scenario "$v")
        BACKEND_WHY=""
        if start_backend_instance "$p" "$v" && why=$(backend_forwards "$p" "$v"); then
            log "$p carries $scenario"
            continue
        fi
        why=${BACKEND_WHY:-$why}
        if [ "$p" = tether ]; then
            SKIP["$scenario $p"]=$why
            log "Tether left out of $scenario: $why"
            if [ -n "${SERVER_WRAPPER[$p-$v]:-}" ]; then stop_server "$p-$v"; fi
        else
            die "$p does not carry $scenario: $why (logs in $RUN_DIR)"
        fi
    done
}

# start_backend_instance PROXY VARIANT: write, check and start (not in a subshell: start_server keeps
# track of what it started); sets BACKEND_WHY and fails when the proxy refuses or does not start.
start_backend_instance() {
    local p=$1 v=$2 name="$1-$2"
    case $p in
        nginx)
            write_nginx_backend_config "$name" "$v"
            nginx -t -q -c "$RUN_DIR/$name.conf" -p "$RUN_DIR" >"$RUN_DIR/$name.test.log" 2>&1 ||
                { BACKEND_WHY="config rejected: $(tail -n 3 "$RUN_DIR/$name.test.log" | tr '\n' ' ')"; return 1; }
            start_server "$name" nginx -c "$RUN_DIR/$name.conf" -p "$RUN_DIR"
            ;;
        haproxy)
            write_haproxy_backend_config "$name" "$v"
            haproxy -c -q -f "$RUN_DIR/$name.cfg" >"$RUN_DIR/$name.test.log" 2>&1 ||
                { BACKEND_WHY="config rejected: $(tail -n 3 "$RUN_DIR/$name.test.log" | tr '\n' ' ')"; return 1; }
            start_server "$name" haproxy -db -f "$RUN_DIR/$name.cfg"
            ;;
        tether)
            write_tether_backend_config "$name" "$v"
            if ! "$TETHER_EXE" check --config "$RUN_DIR/$name.json" >"$RUN_DIR/$name.check.log" 2>&1; then
                BACKEND_WHY="tether check refuses the config: $(check_errors "$RUN_DIR/$name.check.log")"
                return 1
            fi
            if ! START_SOFT=1 start_server "$name" "$TETHER_EXE" run --config "$RUN_DIR/$name.json" --log-level Warning; then
                BACKEND_WHY="tether run exited at once: $(tail -n 3 "$RUN_DIR/$name.log" | tr '\n' ' ' | cut -c1-300)"
                return 1
            fi
            ;;
    esac
    SERVER_URL[$name]=$(backend_url "$p" "$v")
    return 0
}

# check_errors FILE: `tether check`'s errors ("KEY = VALUE: WHAT") as "KEY: WHAT; ..." on one line, each
# cut at its first ";" (the rest is advice).
check_errors() {
    awk 'NR > 1 && NF { sub(/^[ \t]+/, ""); key = $1; n = split($0, parts, ": "); msg = parts[n];
                        sub(/;.*/, "", msg); out = out (out ? "; " : "") key ": " msg }
         END { print (out ? out : "no error printed") }' "$1" | cut -c1-300
}

backend_url() {
    case $2 in
        grpc) echo "http://127.0.0.1:${GRPC_PORT[$1]}/" ;;
        tlsb) echo "http://127.0.0.1:${TLSB_PORT[$1]}/" ;;
        tlsb-nka) echo "http://127.0.0.1:${TLSB_NKA_PORT[$1]}/" ;;
    esac
}

# backend_forwards PROXY VARIANT: a real gRPC call succeeds (grpc-status 0 in the trailers, echo intact), or
# the page comes back from the TLS origin.
backend_forwards() {
    local p=$1 v=$2 got i
    case $v in
        grpc)
            for i in $(seq 1 40); do
                (exec 3<>"/dev/tcp/127.0.0.1/${GRPC_PORT[$p]}") 2>/dev/null && break
                sleep 0.25
            done
            got=$(grpc_call "http://127.0.0.1:${GRPC_PORT[$p]}") || { echo "gRPC call through $p: ${got:0:200}"; return 1; }
            ;;
        tlsb | tlsb-nka)
            local url
            url=$(backend_url "$p" "$v")
            wait_http "$url" 20 || { echo "no answer on $url"; return 1; }
            got=$(curl -s --max-time 5 "$url") || true
            [ "$got" = "$(printf '%b' "$ORIGIN_BODY")" ] ||
                { echo "answered '${got:0:80}' instead of the TLS origin's page"; return 1; }
            ;;
    esac
}

write_nginx_backend_config() {
    local name=$1 v=$2 d="$RUN_DIR/backend-tls"
    {
        echo "worker_processes $PROXY_WORKERS;"
        nginx_common "$name"
        echo "    keepalive_requests 10000000;     # no per-client-connection cap (HAProxy has none)"
        case $v in
            grpc)
                # nginx carries one call per upstream connection (it does not multiplex HTTP/2 upstream), so
                # its idle cap has to cover the ~160 calls in flight, or it closes and reopens connections
                # all the time: 13.5k-24k per 100k calls and 25-50% fewer calls/s with the usual 64 (measured,
                # docs/benchmarks.md). Tether and HAProxy carry them all on a few connections.
                cat <<CONF
    upstream grpc_origin {
        server 127.0.0.1:$GRPC_ORIGIN_PORT;
        keepalive 256;
        keepalive_requests 10000000;
    }
    server {
        listen 127.0.0.1:${GRPC_PORT[nginx]} http2 backlog=4096;
        location / { grpc_pass grpc://grpc_origin; }
    }
CONF
                ;;
            tlsb | tlsb-nka)
                local port=${TLSB_PORT[nginx]}
                [ "$v" = tlsb-nka ] && port=${TLSB_NKA_PORT[nginx]}
                echo "    upstream tls_origin {"
                echo "        server 127.0.0.1:$ORIGIN_TLS_PORT;"
                if [ "$v" = tlsb ]; then
                    echo "        keepalive 64;"
                    echo "        keepalive_requests 10000000;"
                fi
                echo "    }"
                echo "    server {"
                echo "        listen 127.0.0.1:$port backlog=4096;"
                echo "        location / {"
                echo "            proxy_pass https://tls_origin;"
                if [ "$v" = tlsb ]; then
                    echo "            proxy_http_version 1.1;"
                    echo '            proxy_set_header Connection "";'
                fi
                echo "            proxy_ssl_trusted_certificate $d/ca.pem;"
                echo "            proxy_ssl_verify on;"
                echo "            proxy_ssl_verify_depth 2;"
                echo "            proxy_ssl_name $BACKEND_TLS_NAME;"
                echo "            proxy_ssl_server_name on;"
                echo "            proxy_ssl_session_reuse on;"
                echo "            proxy_ssl_protocols TLSv1.2 TLSv1.3;   # 1.22's default leaves 1.3 out"
                echo "            proxy_max_temp_file_size $NGINX_MAX_TEMP_FILE;"
                echo "        }"
                echo "    }"
                ;;
        esac
        echo "}"
    } >"$RUN_DIR/$name.conf"
}

write_haproxy_backend_config() {
    local name=$1 v=$2 d="$RUN_DIR/backend-tls"
    {
        cat <<CONF
global
    nbthread $PROXY_WORKERS
    maxconn 9000
defaults
    mode http
    maxconn 9000
    timeout connect 5s
    timeout client 75s
    timeout server 60s
    timeout http-keep-alive 75s
CONF
        if [ "$v" = tlsb-nka ]; then
            printf '    option http-server-close\n    http-reuse never\n'
        else
            printf '    option http-keep-alive\n    http-reuse safe\n'
        fi
        case $v in
            grpc)
                echo "frontend main"
                echo "    bind 127.0.0.1:${GRPC_PORT[haproxy]} proto h2"
                echo "    default_backend grpc_origin"
                echo "backend grpc_origin"
                echo "    server s1 127.0.0.1:$GRPC_ORIGIN_PORT proto h2"
                ;;
            tlsb | tlsb-nka)
                local port=${TLSB_PORT[haproxy]}
                [ "$v" = tlsb-nka ] && port=${TLSB_NKA_PORT[haproxy]}
                echo "frontend main"
                echo "    bind 127.0.0.1:$port"
                echo "    default_backend tls_origin"
                echo "backend tls_origin"
                echo "    server s1 127.0.0.1:$ORIGIN_TLS_PORT ssl verify required ca-file $d/ca.pem sni str($BACKEND_TLS_NAME) verifyhost $BACKEND_TLS_NAME"
                ;;
        esac
    } >"$RUN_DIR/$name.cfg"
}

write_tether_backend_config() {
    local name=$1 v=$2 d="$RUN_DIR/backend-tls" listener cluster
    case $v in
        grpc)
            listener="{ \"address\": \"127.0.0.1:${GRPC_PORT[tether]}\", \"protocols\": \"http2\" }"
            cluster="\"destinations\": [ \"http://127.0.0.1:$GRPC_ORIGIN_PORT\" ],
      \"protocol\": \"http2\",
      \"pool\": { \"maxIdlePerDestination\": 64, \"maxRequestsPerConnection\": 0 }"
            ;;
        tlsb | tlsb-nka)
            local port=${TLSB_PORT[tether]} max_idle=64
            [ "$v" = tlsb-nka ] && port=${TLSB_NKA_PORT[tether]} max_idle=0
            listener="{ \"address\": \"127.0.0.1:$port\", \"protocols\": \"http1\" }"
            cluster="\"destinations\": [ \"https://127.0.0.1:$ORIGIN_TLS_PORT\" ],
      \"tls\": { \"caFile\": \"$d/ca.pem\", \"serverName\": \"$BACKEND_TLS_NAME\" },
      \"pool\": { \"maxIdlePerDestination\": $max_idle, \"maxRequestsPerConnection\": 0 }"
            ;;
    esac
    # As write_tether_config: --tether-access-log turns Tether's access log on here too (off by default).
    local access_log=off format=combined
    if [ "${TETHER_ACCESS_LOG:-off}" != off ]; then
        access_log="$RUN_DIR/$name-access.log" format=$TETHER_ACCESS_LOG
        rm -f "$access_log"
    fi
    cat >"$RUN_DIR/$name.json" <<CONF
{
  "listeners": [ $listener ],
  "accessLog": { "path": "$access_log", "format": "$format" },
  "downstream": { "maxRequestsPerConnection": 0 },
  "admin": { "address": "127.0.0.1:${BACKEND_ADMIN_PORT[$v]}" },
  "routes": [ { "match": { "pathPrefix": "/" }, "cluster": "backend" } ],
  "clusters": {
    "backend": {
      $cluster
    }
  }
}
CONF
}
