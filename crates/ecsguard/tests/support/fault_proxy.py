#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for ecsguard's live tests.

It sits between the ecsguard binary (AWS_ENDPOINT_URL points at it) and a
moto server, forwards every request, and at chosen rates answers instead:

  throttle       before forwarding: HTTP 400 ThrottlingException (JSON
                 services), Throttling (query services) or HTTP 503
                 RequestLimitExceeded (EC2); the request never ran
  error          before forwarding: HTTP 500 InternalFailure
  reset          before forwarding: the connection is reset (RST)
  error-after    after forwarding: the request ran, the answer is an HTTP 500
  reset-after    after forwarding: the request ran, the connection is reset
  timeout-after  after forwarding: the request ran, the answer never comes
                 (the connection is held for --delay seconds, then closed)

The "-after" faults are the nasty ones: the call took effect but the client
cannot know, so its retry meets its own earlier work.

Rules that are not random:
  --fail ACCOUNT:ACTION   ACTION from ACCOUNT always gets AccessDenied
  --regions ACCOUNT=R1,R2 DescribeRegions from ACCOUNT lists only these

The account of a request is learnt from AssumeRole calls that pass through
(the role's account, keyed by the access key moto hands out).

It prints "PORT <n>" on stdout once it listens, and appends one JSON line per
request to --log: {"action", "account", "fault"}. Faults are drawn from a
seeded generator so that a run is repeatable when requests arrive in order.
"""

import argparse
import http.client
import json
import random
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("throttle", "error", "reset", "error-after", "reset-after", "timeout-after")


class State:
    def __init__(self, args):
        self.upstream = urllib.parse.urlparse(args.upstream)
        self.rates = {}
        for spec in args.rate:
            kind, _, rate = spec.partition("=")
            if kind not in FAULTS:
                sys.exit(f"unknown fault {kind!r}; known: {', '.join(FAULTS)}")
            self.rates[kind] = float(rate)
        self.fail = set()
        for spec in args.fail:
            account, _, action = spec.partition(":")
            self.fail.add((account, action))
        self.regions = {}
        for spec in args.regions:
            account, _, regions = spec.partition("=")
            self.regions[account] = [r for r in regions.split(",") if r]
        self.only = set(args.only)
        self.delay = args.delay
        self.random = random.Random(args.seed)
        self.lock = threading.Lock()
        self.accounts = {}  # access key id -> account id
        self.log = open(args.log, "a", encoding="utf-8") if args.log else None

    def draw(self, action):
        if self.only and action not in self.only:
            return None
        with self.lock:
            roll = self.random.random()
        edge = 0.0
        for kind in FAULTS:
            edge += self.rates.get(kind, 0.0)
            if roll < edge:
                return kind
        return None

    def record(self, action, account, fault):
        if self.log is None:
            return
        line = json.dumps({"action": action, "account": account, "fault": fault})
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()


def access_key(headers):
    auth = headers.get("Authorization", "")
    m = re.search(r"Credential=([^/]+)/", auth)
    return m.group(1) if m else None


def action_of(headers, body):
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    if body:
        try:
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        except ValueError:
            form = {}
        if "Action" in form:
            return form["Action"][0]
    return None


def is_json_protocol(headers):
    return "X-Amz-Target" in headers


def is_ec2(body):
    return b"Action=DescribeRegions" in body or b"Action=DescribeInstances" in body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set in main

    def log_message(self, *args):  # quiet
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reset(self):
        # SO_LINGER with a zero timeout: close() sends RST, not FIN.
        try:
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True

    def answer(self, status, body, content_type, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, message, body):
        if is_json_protocol(self.headers):
            payload = json.dumps({"__type": code, "message": message}).encode()
            self.answer(status, payload, "application/x-amz-json-1.1", {"x-amzn-ErrorType": code})
        elif is_ec2(body):
            payload = (
                f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
                f"</Error></Errors><RequestID>fault</RequestID></Response>"
            ).encode()
            self.answer(status, payload, "text/xml")
        else:
            payload = (
                f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
            ).encode()
            self.answer(status, payload, "text/xml")

    def forward(self, body):
        up = self.state.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in ("transfer-encoding", "connection", "content-length")
        }
        headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        out_headers = [
            (k, v)
            for k, v in resp.getheaders()
            if k.lower() not in ("transfer-encoding", "connection", "content-length")
        ]
        conn.close()
        return resp.status, out_headers, data

    def handle_any(self):
        state = self.state
        body = self.read_body()
        action = action_of(self.headers, body)
        key = access_key(self.headers)
        account = state.accounts.get(key)
        if self.path.startswith("/moto-api"):
            fault = None
        elif action is not None and (account, action) in state.fail:
            state.record(action, account, "denied")
            return self.error(403, "AccessDenied", "denied by the fault proxy", body)
        else:
            fault = state.draw(action) if action else None
        if action == "DescribeRegions" and account in state.regions and fault is None:
            items = "".join(
                f"<item><regionName>{r}</regionName><regionEndpoint>ec2.{r}.amazonaws.com"
                f"</regionEndpoint><optInStatus>opt-in-not-required</optInStatus></item>"
                for r in state.regions[account]
            )
            payload = (
                '<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
                f"<requestId>fault-proxy</requestId><regionInfo>{items}</regionInfo>"
                "</DescribeRegionsResponse>"
            ).encode()
            state.record(action, account, "regions")
            return self.answer(200, payload, "text/xml")
        state.record(action, account, fault)
        if fault == "throttle":
            if is_ec2(body):
                return self.error(503, "RequestLimitExceeded", "Request limit exceeded.", body)
            code = "ThrottlingException" if is_json_protocol(self.headers) else "Throttling"
            return self.error(400, code, "Rate exceeded", body)
        if fault == "error":
            return self.error(500, "InternalFailure", "injected before the call", body)
        if fault == "reset":
            return self.reset()
        status, headers, data = self.forward(body)
        if action == "AssumeRole" and status == 200:
            self.learn(body, data)
        if fault == "error-after":
            return self.error(500, "InternalFailure", "injected after the call", body)
        if fault == "reset-after":
            return self.reset()
        if fault == "timeout-after":
            time.sleep(state.delay)
            return self.reset()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def learn(self, body, data):
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        role = (form.get("RoleArn") or [""])[0]
        m = re.match(r"arn:[^:]*:iam::(\d{12}):", role)
        k = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", data)
        if m and k:
            with self.state.lock:
                self.state.accounts[k.group(1).decode()] = m.group(1)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--upstream", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate", action="append", default=[], metavar="FAULT=RATE")
    p.add_argument("--only", action="append", default=[], metavar="ACTION",
                   help="inject random faults only into these actions")
    p.add_argument("--fail", action="append", default=[], metavar="ACCOUNT:ACTION")
    p.add_argument("--regions", action="append", default=[], metavar="ACCOUNT=R1,R2")
    p.add_argument("--delay", type=float, default=5.0, help="seconds a timeout holds the connection")
    p.add_argument("--log", help="append one JSON line per request here")
    p.add_argument("--account", action="append", default=[], metavar="ACCESS_KEY=ACCOUNT",
                   help="an access key's account, when no AssumeRole passes through")
    args = p.parse_args()
    Handler.state = State(args)
    for spec in args.account:
        key, _, account = spec.partition("=")
        Handler.state.accounts[key] = account
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
