"""A real webhook receiver for the tests: an HTTP(S) server on loopback that
records every POST with its time of receipt and checks its signature with
an independent implementation of the Standard Webhooks scheme (Python's
hmac, hashlib and base64; nothing from liaison). Its behaviour is set per
test: fail the first N attempts, answer a given status, Retry-After, a
huge or trickled answer, no answer at all."""
import base64
import hashlib
import hmac
import http.server
import json
import socket
import ssl
import threading
import time


def verify(secrets, headers, body, tolerance=300):
    """Standard Webhooks verification: True when one of the v1 signatures
    in webhook-signature matches one of secrets."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature", "")
    if not msg_id or not ts or not sigs:
        return False
    if abs(time.time() - int(ts)) > tolerance:
        return False
    signed = f"{msg_id}.{ts}.".encode() + body
    for secret in secrets:
        key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
        want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for part in sigs.split(" "):
            version, _, sig = part.partition(",")
            if version == "v1" and hmac.compare_digest(sig, want):
                return True
    return False


class Receiver:
    def __init__(self, secrets=(), tls=None):
        self.secrets = list(secrets)
        self.received = []          # dicts: id, ts, headers, body, json, at, valid
        self.lock = threading.Lock()
        self.fail_first = 0         # answer 500 to the first N attempts
        self.status = 204           # the answer otherwise
        self.retry_after = None
        self.behaviour = None       # None, "huge", "trickle", "hang", "close"
        self.delay = 0              # seconds to wait before answering
        self.attempts = 0
        self.active = 0             # requests being answered now
        self.max_active = 0
        recv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                at = time.time()
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                headers = {k.lower(): v for k, v in self.headers.items()}
                item = {"id": headers.get("webhook-id"), "headers": headers, "body": body,
                        "at": at, "valid": verify(recv.secrets, headers, body)}
                try:
                    item["json"] = json.loads(body)
                except ValueError:
                    item["json"] = None
                with recv.lock:
                    recv.attempts += 1
                    attempt = recv.attempts
                    recv.received.append(item)
                    recv.active += 1
                    recv.max_active = max(recv.max_active, recv.active)
                try:
                    self.answer(recv, attempt)
                finally:
                    with recv.lock:
                        recv.active -= 1

            def answer(self, recv, attempt):
                behaviour = recv.behaviour
                if recv.delay:
                    time.sleep(recv.delay)
                if behaviour == "hang":
                    time.sleep(30)
                    return
                if behaviour == "close":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
                    self.wfile.flush()
                    self.close_connection = True
                    return
                status = 500 if attempt <= recv.fail_first else recv.status
                self.send_response(status)
                if recv.retry_after is not None:
                    self.send_header("Retry-After", str(recv.retry_after))
                if behaviour == "huge":
                    self.send_header("Content-Length", str(8 * 1024 * 1024))
                    self.end_headers()
                    chunk = b"x" * 65536
                    try:
                        for _ in range(128):
                            self.wfile.write(chunk)
                    except OSError:
                        pass
                    return
                if behaviour == "trickle":
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    try:
                        for _ in range(100000):
                            self.wfile.write(b"x")
                            self.wfile.flush()
                            time.sleep(0.05)
                    except OSError:
                        pass
                    return
                payload = b"" if status in (204, 304) else b"ok"
                if status not in (204, 304):
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            # socketserver listens with a backlog of 5: a burst of new
            # connections (two instances' places, opened at one fire time)
            # overflowed it, and a connection whose handshake's last ACK
            # the kernel dropped waited for SYN-ACK retransmits (1 s, 2 s)
            # before its request was read, past a 2 s webhook timeout: a
            # correct retry, but of a message delivered once already.
            # Real receivers listen with hundreds (nginx: 511).
            request_queue_size = 1024

            def handle_error(self, request, client_address):
                pass  # clients that hang up early are part of the tests

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls[0], tls[1])
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def messages(self, type_=None):
        with self.lock:
            items = list(self.received)
        return [m for m in items if type_ is None or (m["json"] or {}).get("type") == type_]

    def wait(self, count, timeout=20, type_=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.messages(type_)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"expected {count} {type_ or ''} messages, got "
                             f"{len(self.messages(type_))}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def make_tls(directory):
    """A test CA and a certificate for 127.0.0.1 signed by it (openssl)."""
    import os
    import subprocess
    p = lambda name: os.path.join(directory, name)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days",
        "2", "-subj", "/CN=liaison test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign")
    run("openssl", "req", *ec, "-keyout", p("srv.key"), "-out", p("srv.csr"), "-subj",
        "/CN=127.0.0.1")
    with open(p("ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", p("srv.csr"), "-CA", p("ca.pem"), "-CAkey",
        p("ca.key"), "-CAcreateserial", "-out", p("srv.pem"), "-days", "2", "-extfile",
        p("ext.cnf"))
    return p("ca.pem"), (p("srv.pem"), p("srv.key"))


def closed_port():
    """A loopback port with nothing listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
