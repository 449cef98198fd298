"""Checks that an HTTP server consumes a whole POST body: sends a POST with N bytes and then a GET
on the same keep-alive connection and expects two complete 200 responses. Exit 0 when both arrive."""
import socket
import sys


def read_response(sock: socket.socket, buf: bytes) -> tuple[int, bytes]:
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed before the response headers")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed inside the response body")
        rest += chunk
    return status, rest[length:]


def main() -> int:
    host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with socket.create_connection((host, port), timeout=5) as sock:
        body = b"x" * size
        sock.sendall(
            b"POST /post HTTP/1.1\r\nHost: origin\r\nContent-Type: application/octet-stream\r\n"
            + b"Content-Length: %d\r\n\r\n" % size + body
            + b"GET / HTTP/1.1\r\nHost: origin\r\n\r\n"
        )
        first, rest = read_response(sock, b"")
        second, _ = read_response(sock, rest)
    if (first, second) != (200, 200):
        print(f"POST answered {first}, the GET after it {second}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
