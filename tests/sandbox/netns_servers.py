"""Test hosts run inside a test's network namespace: a web server and a DNS recorder.

    python netns_servers.py web --directory D [--tls-cert C --tls-key K]
    python netns_servers.py dns --address A

``web`` serves D on port 80 (and on 443 and 8443 with TLS when given a certificate) on
every address of the namespace, plus ``/bytes/<n>`` (n zero bytes, streamed) and ``/headers`` (the request's
headers, as received).
``dns`` answers every query on A:53 with NXDOMAIN. Both print ``READY`` once
listening, then one line per event, ``CONNECTION <local address> <port> <peer>`` or
``QUERY <name>``, so that a test can prove that something was never contacted.
Run by the tests and the network benchmark, never by the server.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import socket
import ssl
import sys
import threading
from typing import Any

CHUNK = bytes(256 * 1024)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Handler(http.server.SimpleHTTPRequestHandler):
    def setup(self) -> None:
        super().setup()
        local = self.connection.getsockname()
        say(f"CONNECTION {local[0].removeprefix('::ffff:')} {local[1]} {self.client_address[0]}")

    def do_GET(self) -> None:
        if self.path.startswith("/bytes/"):
            self.send_bytes(int(self.path.removeprefix("/bytes/")))
        elif self.path == "/headers":
            self.send_text(str(self.headers))
        else:
            super().do_GET()

    def send_bytes(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        while size > 0:
            size -= self.wfile.write(CHUNK[:size]) or 0

    def send_text(self, text: str) -> None:
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(http.server.ThreadingHTTPServer):
    """Listens on ``::`` for IPv6 and (as mapped addresses) IPv4 alike."""

    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def web(arguments: argparse.Namespace) -> None:
    handler = functools.partial(Handler, directory=arguments.directory)
    servers = [Server(("::", 80), handler)]
    if arguments.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(arguments.tls_cert, arguments.tls_key)
        for port in (443, 8443):
            tls = Server(("::", port), handler)
            tls.socket = context.wrap_socket(tls.socket, server_side=True)
            servers.append(tls)
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    say("READY")
    servers[0].serve_forever()


def dns(arguments: argparse.Namespace) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind((arguments.address, 53))
    say("READY")
    while True:
        query, peer = listener.recvfrom(4096)
        name, position = [], 12
        while position < len(query) and query[position]:
            length = query[position]
            name.append(query[position + 1:position + 1 + length].decode("ascii", "replace"))
            position += 1 + length
        say(f"QUERY {'.'.join(name)}")
        flags = 0x8183  # a response, recursion desired and available, NXDOMAIN
        answer = query[:2] + flags.to_bytes(2, "big") + query[4:6] + bytes(6) + query[12:position + 5]
        listener.sendto(answer, peer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    web_parser = commands.add_parser("web")
    web_parser.add_argument("--directory", required=True)
    web_parser.add_argument("--tls-cert")
    web_parser.add_argument("--tls-key")
    dns_parser = commands.add_parser("dns")
    dns_parser.add_argument("--address", required=True)
    arguments = parser.parse_args()
    {"web": web, "dns": dns}[arguments.command](arguments)


if __name__ == "__main__":
    main()
