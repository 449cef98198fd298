# shellcheck shell=bash
# Configuration and start-up of the origin and of the three proxies in front of it.
# Every proxy gets the same allowance: PROXY_WORKERS worker processes/threads (default: all cores),
# the same idle timeouts, an upstream pool capped at 64 idle connections, and no cap on requests per
# connection on either side (HAProxy has none by default, and h2load does not reconnect after a
# GOAWAY, so a cap would end an HTTP/2 run early).

ORIGIN_BODY='Hello from origin!\n'        # 19 bytes once nginx expands \n, like the anchors
ORIGIN_BODY_BYTES=19

declare -A HTTP_PORT=() TLS_PORT=() NKA_PORT=() IDLE_PORT=()
TETHER_EXE=""       # the published build, once build_tether or --no-build found it

assign_ports() {
    ORIGIN_PORT=$((PORT_BASE + 80))
    ORIGIN_STATUS_PORT=$((PORT_BASE + 81))
    local i=0 p
    for p in tether nginx haproxy; do
        HTTP_PORT[$p]=$((PORT_BASE + 110 + i * 10))
        TLS_PORT[$p]=$((PORT_BASE + 111 + i * 10))
        NKA_PORT[$p]=$((PORT_BASE + 112 + i * 10))
        IDLE_PORT[$p]=$((PORT_BASE + 113 + i * 10))
        i=$((i + 1))
    done
    TETHER_ADMIN_PORT=$((PORT_BASE + 117))
    TETHER_NKA_ADMIN_PORT=$((PORT_BASE + 118))
    TETHER_IDLE_ADMIN_PORT=$((PORT_BASE + 119))
    local port
    for port in "$ORIGIN_PORT" "$ORIGIN_STATUS_PORT" "${HTTP_PORT[@]}" "${TLS_PORT[@]}" "${NKA_PORT[@]}" \
        "${IDLE_PORT[@]}" "$TETHER_ADMIN_PORT" "$TETHER_NKA_ADMIN_PORT" "$TETHER_IDLE_ADMIN_PORT"; do
        port_free "$port" || die "port $port on 127.0.0.1 is in use; set BENCH_PORT_BASE to another base"
    done
}

make_fixtures() {
    mkdir -p "$RUN_DIR/www" "$RUN_DIR/tls" "$RUN_DIR/nginx-temp"
    # base64 of 3n random bytes is exactly 4n bytes of text: 16 KB and 1 MB bodies.
    head -c 12288 /dev/urandom | base64 -w 0 >"$RUN_DIR/www/16k"
    head -c 786432 /dev/urandom | base64 -w 0 >"$RUN_DIR/www/1m"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$RUN_DIR/tls/key.pem" -out "$RUN_DIR/tls/cert.pem" >/dev/null 2>&1
    cat "$RUN_DIR/tls/cert.pem" "$RUN_DIR/tls/key.pem" >"$RUN_DIR/tls/combined.pem"   # HAProxy's crt
}

# nginx_common NAME: the lines every nginx here shares (foreground, private pid/temp paths, no access log).
nginx_common() {
    local name=$1 temp="$RUN_DIR/nginx-temp/$1" user=""
    mkdir -p "$temp"
    # As root, nginx would switch its workers to nobody, who may not read the bench directory.
    [ "$(id -u)" -eq 0 ] && user="user root;"
    cat <<CONF
daemon off;
pid $RUN_DIR/$name.pid;
error_log $RUN_DIR/$name.error.log warn;
$user
worker_rlimit_nofile 20000;
events { worker_connections 16000; }
CONF
    # shellcheck disable=SC2016
    printf 'http {\n    access_log off;\n    client_body_temp_path %s/body;\n    proxy_temp_path %s/proxy;\n    fastcgi_temp_path %s/fastcgi;\n    uwsgi_temp_path %s/uwsgi;\n    scgi_temp_path %s/scgi;\n' \
        "$temp" "$temp" "$temp" "$temp" "$temp"
}

write_origin_config() {
    {
        echo "worker_processes 1;"
        nginx_common origin
        cat <<CONF
    # The origin must never be the one that closes a proxy's pooled connection.
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    sendfile on;
    server {
        listen 127.0.0.1:$ORIGIN_PORT backlog=4096;
        root $RUN_DIR/www;
        default_type text/plain;
        location = / { return 200 "$ORIGIN_BODY"; }
        location = /xform { return 200 "$ORIGIN_BODY"; }
        location = /16k { }
        location = /1m { }
        # nginx reads (and discards) the whole request body before the connection is reused:
        # checked by check_origin's POST-then-GET on one keep-alive connection.
        location = /post { client_max_body_size 1m; client_body_buffer_size 16k; return 200 "ok\n"; }
    }
    # Upstream connections are counted where they arrive: accepts of the origin, the same for every proxy.
    server {
        listen 127.0.0.1:$ORIGIN_STATUS_PORT;
        location = /stub_status { stub_status; }
    }
CONF
        # The TLS server of the httpsbackend scenarios (bench/lib/backends.sh), only when they run.
        if [ -n "${ORIGIN_TLS_PORT:-}" ]; then origin_tls_server; fi
        echo "}"
    } >"$RUN_DIR/origin.conf"
}

# write_nginx_config NAME PORT TLS_PORT KEEPALIVE(1|0)
write_nginx_config() {
    local name=$1 port=$2 tls_port=$3 keepalive=$4
    {
        echo "worker_processes $PROXY_WORKERS;"
        nginx_common "$name"
        echo "    keepalive_requests 10000000;     # no per-client-connection cap (HAProxy has none)"
        echo "    upstream origin {"
        echo "        server 127.0.0.1:$ORIGIN_PORT;"
        if [ "$keepalive" = 1 ]; then
            echo "        keepalive 64;"
            echo "        keepalive_requests 10000000; # no recycling after 1,000 requests (HAProxy has none)"
        fi
        echo "    }"
        echo "    server {"
        echo "        listen 127.0.0.1:$port backlog=4096;"
        if [ -n "$tls_port" ]; then
            echo "        listen 127.0.0.1:$tls_port ssl http2 backlog=4096;"
            echo "        ssl_certificate $RUN_DIR/tls/cert.pem;"
            echo "        ssl_certificate_key $RUN_DIR/tls/key.pem;"
        fi
        echo "        location / {"
        nginx_proxy_lines "$keepalive"
        echo "        }"
        # The xform scenario: the small request with one request header set (proxy_set_header replaces the
        # inherited list, so the location repeats it).
        echo "        location = /xform {"
        nginx_proxy_lines "$keepalive"
        echo "            proxy_set_header X-Bench 1;"
        echo "        }"
        echo "    }"
        echo "}"
    } >"$RUN_DIR/$name.conf"
}

# nginx_proxy_lines KEEPALIVE(1|0): the proxy directives of a location to the origin.
nginx_proxy_lines() {
    echo "            proxy_pass http://origin;"
    if [ "$1" = 1 ]; then
        echo "            proxy_http_version 1.1;"
        echo '            proxy_set_header Connection "";'
    fi
    echo "            proxy_max_temp_file_size $NGINX_MAX_TEMP_FILE;"
}

# write_haproxy_config NAME PORT TLS_PORT KEEPALIVE(1|0)
write_haproxy_config() {
    local name=$1 port=$2 tls_port=$3 keepalive=$4
    {
        cat <<CONF
global
    nbthread $PROXY_WORKERS
    maxconn 9000
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode http
    maxconn 9000
    timeout connect 5s
    timeout client 75s
    timeout server 60s
    timeout http-keep-alive 75s
CONF
        if [ "$keepalive" = 1 ]; then
            printf '    option http-keep-alive\n    http-reuse safe\n'
        else
            printf '    option http-server-close\n    http-reuse never\n'
        fi
        echo "frontend main"
        echo "    bind 127.0.0.1:$port"
        [ -n "$tls_port" ] && echo "    bind 127.0.0.1:$tls_port ssl crt $RUN_DIR/tls/combined.pem alpn h2,http/1.1"
        echo "    http-request set-header X-Bench 1 if { path /xform }"
        echo "    default_backend origin"
        echo "backend origin"
        echo "    server origin 127.0.0.1:$ORIGIN_PORT"
    } >"$RUN_DIR/$name.cfg"
}

# write_tether_config NAME PORT TLS_PORT ADMIN_PORT MAX_IDLE
write_tether_config() {
    local name=$1 port=$2 tls_port=$3 admin_port=$4 max_idle=$5 tls="" access_log="off" format="combined" compression=""
    # --tether-compression: every response compressed, however small, so the small scenario pays the whole cost.
    if [ "${TETHER_COMPRESSION:-off}" != off ]; then
        compression=", \"compression\": { \"enabled\": true, \"algorithms\": [\"$TETHER_COMPRESSION\"], \"minSize\": 0 }"
    fi
    if [ "${TETHER_ACCESS_LOG:-off}" != off ]; then
        access_log="$RUN_DIR/$name-access.log" format=$TETHER_ACCESS_LOG
        rm -f "$access_log"
    fi
    if [ -n "$tls_port" ]; then
        tls=", { \"address\": \"127.0.0.1:$tls_port\", \"protocols\": \"http1AndHttp2\", \"engine\": \"${TETHER_ENGINE:-kestrel}\", \"tls\": { \"certificate\": \"$RUN_DIR/tls/cert.pem\", \"key\": \"$RUN_DIR/tls/key.pem\" } }"
    fi
    cat >"$RUN_DIR/$name.json" <<CONF
{
  "listeners": [ { "address": "127.0.0.1:$port", "protocols": "http1", "engine": "${TETHER_ENGINE:-kestrel}" }$tls ],
  "downstream": { "maxRequestsPerConnection": 0 },
  "admin": { "address": "127.0.0.1:$admin_port" },
  "accessLog": { "path": "$access_log", "format": "$format" },
  "routes": [
    { "match": { "pathPrefix": "/xform" }, "cluster": "origin", "transforms": { "requestHeaders": { "set": { "X-Bench": "1" } } } },
    { "match": { "pathPrefix": "/" }, "cluster": "origin"$compression }
  ],
  "clusters": {
    "origin": {
      "destinations": [ "127.0.0.1:$ORIGIN_PORT" ],
      "pool": { "maxIdlePerDestination": $max_idle, "maxRequestsPerConnection": 0 }
    }
  }
}
CONF
}

origin_accepts() {
    curl -s --max-time 2 "http://127.0.0.1:$ORIGIN_STATUS_PORT/stub_status" | awk 'NR == 3 {print $1}'
}

start_origin() {
    write_origin_config
    nginx -t -q -c "$RUN_DIR/origin.conf" -p "$RUN_DIR" 2>"$RUN_DIR/origin.test.log" ||
        { cat "$RUN_DIR/origin.test.log" >&2; die "origin nginx config rejected"; }
    start_server origin nginx -c "$RUN_DIR/origin.conf" -p "$RUN_DIR"
    SERVER_URL[origin]="http://127.0.0.1:$ORIGIN_PORT/"
    wait_http "http://127.0.0.1:$ORIGIN_PORT/" 10 || die "origin did not answer"
    check_origin
}

# check_origin: bodies have the right sizes, and a 4 KB POST followed by a GET on the same
# keep-alive connection both get their answer (so the origin consumed the whole POST body).
check_origin() {
    local body
    body=$(curl -s "http://127.0.0.1:$ORIGIN_PORT/" | wc -c)
    [ "$body" -eq "$ORIGIN_BODY_BYTES" ] || die "origin small body is $body bytes, expected $ORIGIN_BODY_BYTES"
    [ "$(curl -s "http://127.0.0.1:$ORIGIN_PORT/16k" | wc -c)" -eq 16384 ] || die "origin /16k is not 16 KB"
    [ "$(curl -s "http://127.0.0.1:$ORIGIN_PORT/1m" | wc -c)" -eq 1048576 ] || die "origin /1m is not 1 MB"
    local out
    out=$(python3 "$BENCH_DIR/tools/post_check.py" 127.0.0.1 "$ORIGIN_PORT" 4096) ||
        die "origin POST check failed: $out"
}

# start_instance PROXY VARIANT. VARIANT main: the HTTP/1.1 and TLS (h2) listeners, pooled upstream;
# nka: upstream keep-alive off; idle: like main without TLS, started fresh for each idle-memory measure
# so that memory a previous measure left in the allocator does not hide this one's.
start_instance() {
    local p=$1 variant=$2 name port tls="" keepalive=1 admin=$TETHER_ADMIN_PORT
    case $variant in
        main) name=$p port=${HTTP_PORT[$p]} tls=${TLS_PORT[$p]} ;;
        nka) name=$p-nka port=${NKA_PORT[$p]} keepalive=0 admin=$TETHER_NKA_ADMIN_PORT ;;
        idle) name=$p-idle port=${IDLE_PORT[$p]} admin=$TETHER_IDLE_ADMIN_PORT ;;
        *) die "unknown variant $variant" ;;
    esac
    case $p in
        nginx)
            write_nginx_config "$name" "$port" "$tls" "$keepalive"
            nginx -t -q -c "$RUN_DIR/$name.conf" -p "$RUN_DIR" 2>"$RUN_DIR/$name.test.log" ||
                { cat "$RUN_DIR/$name.test.log" >&2; die "$name config rejected"; }
            start_server "$name" nginx -c "$RUN_DIR/$name.conf" -p "$RUN_DIR"
            ;;
        haproxy)
            write_haproxy_config "$name" "$port" "$tls" "$keepalive"
            haproxy -c -q -f "$RUN_DIR/$name.cfg" >"$RUN_DIR/$name.test.log" 2>&1 ||
                { cat "$RUN_DIR/$name.test.log" >&2; die "$name config rejected"; }
            start_server "$name" haproxy -db -f "$RUN_DIR/$name.cfg"
            ;;
        tether)
            write_tether_config "$name" "$port" "$tls" "$admin" $((keepalive ? 64 : 0))
            # Warnings only: the peers log nothing per request either (nginx access_log off).
            start_server "$name" "$TETHER_EXE" run --config "$RUN_DIR/$name.json" --log-level Warning
            ;;
    esac
    SERVER_URL[$name]="http://127.0.0.1:$port/"
}

# build_tether: Release publish into bench/.build/tether; returns non-zero (and says why) on failure.
# Sets TETHER_COMMIT to what was built.
build_tether() {
    local started=$SECONDS src=$REPO_DIR commit
    commit=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
    TETHER_COMMIT=$commit
    if [ "$TETHER_SOURCE" = head ]; then
        # That commit only: other people's half-saved edits in src/ cannot break or change the build.
        src="$BENCH_DIR/.build/src"
        rm -rf "$src"
        mkdir -p "$src"
        git -C "$REPO_DIR" archive "$commit" | tar -x -C "$src"
    elif ! git -C "$REPO_DIR" diff --quiet HEAD -- src 2>/dev/null; then
        TETHER_COMMIT="$commit + uncommitted changes in src/"
    fi
    log "building Tether (Release) from $TETHER_COMMIT"
    rm -rf "$BENCH_DIR/.build/tether"
    if ! DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 timeout 900 \
        dotnet publish "$src/src/Tether" -c Release -o "$BENCH_DIR/.build/tether" >"$RUN_DIR/tether-build.log" 2>&1; then
        tail -n 20 "$RUN_DIR/tether-build.log" >&2
        TETHER_STATUS="the Release build failed (see bench/results/tmp/run/tether-build.log)"
        return 1
    fi
    log "built Tether in $((SECONDS - started)) s"
}

# proxy_forwards PROXY: plain, TLS/h2 and no-keep-alive listeners all return the origin's body.
proxy_forwards() {
    local p=$1 expect got
    expect=$(curl -s --max-time 5 "http://127.0.0.1:$ORIGIN_PORT/")
    wait_http "http://127.0.0.1:${HTTP_PORT[$p]}/" 20 || { echo "no answer on 127.0.0.1:${HTTP_PORT[$p]}"; return 1; }
    got=$(curl -s --max-time 5 "http://127.0.0.1:${HTTP_PORT[$p]}/") || true
    [ "$got" = "$expect" ] || { echo "HTTP/1.1 answered '${got:0:60}' instead of the origin's body"; return 1; }
    # Each listener is its own server, started in turn: the TLS one opens a moment after the plain one.
    wait_http "https://127.0.0.1:${TLS_PORT[$p]}/" 20 -k || { echo "no answer on https://127.0.0.1:${TLS_PORT[$p]}"; return 1; }
    got=$(curl -sk --http2 --max-time 5 -o /dev/null -w '%{http_version} %{http_code}' "https://127.0.0.1:${TLS_PORT[$p]}/") || true
    [ "$got" = "2 200" ] || { echo "HTTP/2 over TLS answered '$got' (want '2 200')"; return 1; }
    wait_http "http://127.0.0.1:${NKA_PORT[$p]}/" 20 || { echo "no-keep-alive instance does not answer"; return 1; }
    got=$(curl -s --max-time 5 "http://127.0.0.1:${NKA_PORT[$p]}/") || true
    [ "$got" = "$expect" ] || { echo "no-keep-alive instance answered '${got:0:60}'"; return 1; }
}
