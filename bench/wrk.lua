-- wrk script for every HTTP/1.1 scenario: BENCH_POST_BYTES > 0 turns the request into a POST with
-- that many body bytes; done() prints one machine-readable line that bench/tools/benchtool.py reads.
local post_bytes = tonumber(os.getenv("BENCH_POST_BYTES") or "0") or 0
if post_bytes > 0 then
   wrk.method = "POST"
   wrk.body = string.rep("x", post_bytes)
   wrk.headers["Content-Type"] = "application/octet-stream"
end

-- BENCH_ACCEPT_ENCODING (run.sh --tether-compression): ask for gzip or br; wrk counts the encoded bytes.
local accept_encoding = os.getenv("BENCH_ACCEPT_ENCODING") or "off"
if accept_encoding ~= "off" and accept_encoding ~= "" then
   wrk.headers["Accept-Encoding"] = accept_encoding
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "err_connect": %d, "err_read": %d, '
         .. '"err_write": %d, "err_status": %d, "err_timeout": %d, "p50_us": %d, "p99_us": %d, '
         .. '"mean_us": %.1f, "max_us": %d}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
