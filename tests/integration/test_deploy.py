"""The README's "Deploy" section, as far as it runs here: the install tree
(test_systemd verifies its unit), and the nginx site it tells operators to
use (etc/nginx-liaison.conf), checked by `nginx -t` and then serving real
requests over TLS to a real liaisond that believes its X-Forwarded-For."""
import gzip
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess

import harness

NGINX = "/usr/sbin/nginx"
SITE = os.path.join(harness.ROOT, "etc", "nginx-liaison.conf")


def site_for(tmp, daemon_port, http_port, https_port):
    """The shipped site with this test's ports and certificate."""
    text = open(SITE).read()
    text = text.replace("listen [::]:80;\n", "").replace("listen [::]:443 ssl;\n", "")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    text = text.replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    text = text.replace("/etc/letsencrypt/live/calendar.example.org/fullchain.pem",
                        os.path.join(tmp, "cert.pem"))
    text = text.replace("/etc/letsencrypt/live/calendar.example.org/privkey.pem",
                        os.path.join(tmp, "key.pem"))
    assert "127.0.0.1:8080" in text
    return text.replace("127.0.0.1:8080", f"127.0.0.1:{daemon_port}")


def nginx_conf(tmp):
    temp = "\n".join(f"    {k}_temp_path {tmp}/{k};" for k in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
            f"events {{ worker_connections 64; }}\n"
            f"http {{\n    access_log off;\n{temp}\n    include {tmp}/site.conf;\n}}\n")


def test_the_nginx_site_of_the_readme_serves_liaisond_over_tls(ctx):
    if not os.path.exists(NGINX) or not shutil.which("openssl"):
        raise harness.Skip("nginx or openssl is not installed")
    tmp = os.path.join(ctx.tmp, "nginx")
    os.makedirs(tmp)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=calendar.example.org",
                    "-addext", "subjectAltName=DNS:calendar.example.org",
                    "-keyout", os.path.join(tmp, "key.pem"), "-out", os.path.join(tmp, "cert.pem")],
                   check=True, capture_output=True)
    db = ctx.database()
    token = ctx.org_with_key(db, "hcmc-dost", tz="Asia/Ho_Chi_Minh")
    d = ctx.daemon(db, args=["--trusted-proxies", "127.0.0.1",
                             "--public-url", "https://calendar.example.org"])
    http_port, https_port = harness.free_port(), harness.free_port()
    with open(os.path.join(tmp, "site.conf"), "w") as f:
        f.write(site_for(tmp, d.port, http_port, https_port))
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        f.write(nginx_conf(tmp))
    conf = os.path.join(tmp, "nginx.conf")
    t = subprocess.run([NGINX, "-t", "-c", conf, "-p", tmp], capture_output=True, text=True)
    assert t.returncode == 0 and "test is successful" in t.stderr, t.stderr
    proc = subprocess.Popen([NGINX, "-c", conf, "-p", tmp, "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        tls = ssl.create_default_context(cafile=os.path.join(tmp, "cert.pem"))

        def ask(method, path, headers=None, body=None):
            # TLS checked against the site's name, on the port this test gave it.
            c = http.client.HTTPConnection("127.0.0.1", https_port, timeout=10)
            c.sock = tls.wrap_socket(socket.create_connection(("127.0.0.1", https_port), 10),
                                     server_hostname="calendar.example.org")
            try:
                h = {"Host": "calendar.example.org"}
                h.update(headers or {})
                c.request(method, path, body=body, headers=h)
                r = c.getresponse()
                return r.status, dict(r.getheaders()), r.read()
            finally:
                c.close()

        harness.wait_for(lambda: _up(https_port), 10, what="nginx to listen")
        status, _, body = ask("GET", "/healthz")
        assert status == 200, (status, body)
        # The client's address, as nginx passes it on, is the one liaisond logs.
        status, _, body = ask("GET", "/v1/orgs", {"Authorization": f"Bearer {token}",
                                                  "X-Forwarded-For": "203.0.113.7"})
        assert status == 200, (status, body)
        harness.wait_for(lambda: "peer=203.0.113.7 via=127.0.0.1" in d.logtext(), 5,
                         what="the forwarded client in the access log")
        # A feed through the proxy: its https URL, gzipped by liaisond with
        # its own ETag, not compressed again by nginx.
        status, _, body = ask("POST", "/v1/feeds", {"Authorization": f"Bearer {token}",
                                                    "Content-Type": "application/json"},
                              b'{"name": "Through nginx"}')
        assert status == 201, (status, body)
        url = json.loads(body)["url"]
        assert url.startswith("https://calendar.example.org/feeds/"), url
        status, headers, body = ask("GET", url[len("https://calendar.example.org"):],
                                    {"Accept-Encoding": "gzip"})
        assert status == 200 and headers.get("Content-Encoding") == "gzip", headers
        assert headers.get("ETag", "").endswith('-gz"'), headers
        assert gzip.decompress(body).startswith(b"BEGIN:VCALENDAR")
        # Plain http is sent to https.
        c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        c.request("GET", "/feeds/x.ics", headers={"Host": "calendar.example.org"})
        r = c.getresponse()
        assert r.status == 301 and r.getheader("Location") == \
            "https://calendar.example.org/feeds/x.ics", r.getheaders()
        c.close()
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _up(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False
