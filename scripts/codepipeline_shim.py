"""A loopback shim between the AWS SDK for Rust and moto's CodePipeline, for tests and the demo.

moto (5.2.5) answers CodePipeline with timestamps as ISO-8601 strings ("2026-11-25T19:46:13.582Z")
where AWS's JSON protocol sends epoch seconds; botocore tolerates that, the Rust SDK does not
(GetPipeline, ListPipelines and ListPipelineExecutions fail to deserialize). This shim forwards
every request to moto unchanged and rewrites such timestamp strings in successful JSON answers
into epoch numbers, which is what AWS itself returns. It changes nothing else.

usage: python codepipeline_shim.py LISTEN_PORT UPSTREAM_URL
Once listening it prints `PORT=<port>` (LISTEN_PORT 0: a free port of its choosing).
"""
import datetime
import http.server
import json
import re
import sys
import urllib.error
import urllib.request

import lifeline

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
HOP = {"host", "content-length", "connection", "transfer-encoding", "server", "date"}


def fix(v):
    if isinstance(v, dict):
        return {k: fix(x) for k, x in v.items()}
    if isinstance(v, list):
        return [fix(x) for x in v]
    if isinstance(v, str) and ISO.match(v):
        return datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    return v


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = ""

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        # the Host the client signed, for a moto that checks signatures (AFT_MOTO_IAM=aws)
        headers["X-Forwarded-Host"] = self.headers.get("Host", "")
        req = urllib.request.Request(self.upstream + self.path, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, data, rh = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, data, rh = e.code, e.read(), e.headers
        if status == 200:
            try:
                data = json.dumps(fix(json.loads(data))).encode()
            except ValueError:
                pass
        self.send_response(status)
        for k, v in rh.items():
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    port, upstream = int(sys.argv[1]), sys.argv[2].rstrip("/")
    Handler.upstream = upstream
    lifeline.watch()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"PORT={server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
