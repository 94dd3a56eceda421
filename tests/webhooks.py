"""A real HTTP server on 127.0.0.1 that alert sinks post to (integration and DAG tests)."""

from __future__ import annotations


class WebhookServer:
    """An HTTP server in a thread: answers 200 (``mode='ok'``), 500 (``'fail'``) or hangs
    (``'hang'``, until the test ends); records every request's path, status and JSON body."""

    def __init__(self):
        import http.server
        import threading

        self.mode = "ok"
        self.requests = []
        self._release = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                import json

                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                mode = server.mode
                if mode == "hang":
                    server._release.wait(30)
                status = 500 if mode == "fail" else 200
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = raw.decode(errors="replace")
                server.requests.append(
                    {"path": self.path, "status": status, "mode": mode, "body": body,
                     "headers": dict(self.headers)}
                )  # fmt: skip
                try:
                    # JSON like Slack's Web API ({"ok": ...}); webhook clients ignore the body.
                    answer = {"ok": True} if status == 200 else {"ok": False, "error": "boom"}
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(json.dumps(answer).encode())
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/theia"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def delivered(self):
        """Bodies answered with 200."""
        return [r["body"] for r in self.requests if r["status"] == 200 and r["mode"] == "ok"]

    def close(self):
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
