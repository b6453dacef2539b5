#!/usr/bin/env python3
"""A stand-in for Twilio's REST API (Messages.json and Calls.json) for tests.

Speaks Twilio's wire format: form-encoded POSTs with HTTP Basic auth, 201 with
Twilio-shaped JSON, errors as {"code", "message", "more_info", "status"}.
Listens on 127.0.0.1 only, writes its port to --port-file, records every request
as one JSON line in --log, and exits by itself after --lifetime seconds.

Faults, per test:
  POST /_control {"mode": "ok" | "429" | "500" | "slow" | "21610" | "21211" | "error",
                  "retry_after": 7, "delay_ms": 1500, "status": 400, "code": 21614,
                  "count": 3}
      applies to the next `count` requests (every request when absent) until changed;
      "delay_ms" alone slows every answer (mode "ok" included). {"reset_stats": true}
      zeroes the counters below.
  GET /_stats  {"requests", "connections", "concurrent_requests", "max_concurrent_requests",
                "concurrent_connections", "max_concurrent_connections"}
  POST /hook...  a CRM endpoint for Herald's webhook channel: records the body and the
      X-Herald-* headers, with "signature_ok" when --webhook-secret is given (HMAC-SHA256 over
      timestamp + "." + body), and answers 200 {"id": "crm-<n>"} or the fault's status.
  Magic To numbers (Twilio's test numbers where they exist):
      +15005550001 21211 invalid number      +15005550002 21612 cannot route
      +15005550003 21408 no geo permission   +15005550004 21610 unsubscribed
      +15005550009 21614 not a mobile number +15005550429 429 Retry-After 2
      +15005550500 500                       +15005550900 slow (delay_ms, default 3000)
"""

import argparse
import base64
import email.utils
import hashlib
import hmac
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PATH_RE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/(Messages|Calls)\.json$")

TWILIO_ERRORS = {
    20003: (401, "Authenticate"),
    20429: (429, "Too Many Requests"),
    21201: (400, "No 'To' number is specified"),
    21205: (400, "Url parameter is required."),
    21211: (400, "Invalid 'To' Phone Number"),
    21213: (400, "No 'From' number is specified"),
    21408: (400, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21612: (400, "The 'To' phone number is not currently reachable via SMS"),
    21614: (400, "'To' number is not a valid mobile number"),
}

MAGIC = {
    "+15005550001": {"mode": "error", "code": 21211},
    "+15005550002": {"mode": "error", "code": 21612},
    "+15005550003": {"mode": "error", "code": 21408},
    "+15005550004": {"mode": "error", "code": 21610},
    "+15005550009": {"mode": "error", "code": 21614},
    "+15005550429": {"mode": "429", "retry_after": 2},
    "+15005550500": {"mode": "500"},
    "+15005550900": {"mode": "slow"},
}


class State:
    def __init__(self, account_sid, auth_token, log_path, webhook_secret=""):
        self.lock = threading.Lock()
        self.webhook_secret = webhook_secret
        self.hooks = 0
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None
        self.fault = {"mode": "ok"}
        self.fault_left = None  # None: the fault applies until changed
        self.reset_stats()

    def reset_stats(self):
        # Live counts stay: connections open now will still close.
        self.requests = 0
        self.connections = 0
        self.concurrent_requests = getattr(self, "concurrent_requests", 0)
        self.max_concurrent_requests = self.concurrent_requests
        self.concurrent_connections = getattr(self, "concurrent_connections", 0)
        self.max_concurrent_connections = self.concurrent_connections

    def stats(self):
        return {
            "requests": self.requests,
            "connections": self.connections,
            "concurrent_requests": self.concurrent_requests,
            "max_concurrent_requests": self.max_concurrent_requests,
            "concurrent_connections": self.concurrent_connections,
            "max_concurrent_connections": self.max_concurrent_connections,
        }

    def take_fault(self):
        with self.lock:
            fault = dict(self.fault)
            if self.fault_left is not None:
                self.fault_left -= 1
                if self.fault_left <= 0:
                    self.fault = {"mode": "ok"}
                    self.fault_left = None
            return fault

    def record(self, entry):
        if self.log is None:
            return
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self.lock:
            self.log.write(line)
            self.log.flush()


def rfc2822_now():
    return email.utils.formatdate(usegmt=False).replace("-0000", "+0000")


def error_body(code, status=None, message=None):
    default_status, default_message = TWILIO_ERRORS.get(code, (400, "Error"))
    status = status or default_status
    return status, {
        "code": code,
        "message": message or default_message,
        "more_info": "https://www.twilio.com/docs/errors/%d" % code,
        "status": status,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API does
    server_version = "twilio-peer/1"

    def setup(self):
        super().setup()
        st = self.server.state
        self.conn_id = None
        with st.lock:
            st.connections += 1
            self.conn_id = st.connections
            st.concurrent_connections += 1
            st.max_concurrent_connections = max(
                st.max_concurrent_connections, st.concurrent_connections)

    def finish(self):
        st = self.server.state
        with st.lock:
            st.concurrent_connections -= 1
        super().finish()

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj, headers=None):
        data = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self):
        st = self.server.state
        if urlsplit(self.path).path == "/_stats":
            with st.lock:
                stats = st.stats()
            self.send_json(200, stats)
            return
        self.send_json(*error_body(20404, 404, "The requested resource was not found"))

    def do_POST(self):
        st = self.server.state
        path = urlsplit(self.path).path
        body = self.read_body()
        if path == "/_control":
            self.control(body)
            return
        with st.lock:
            st.requests += 1
            st.concurrent_requests += 1
            st.max_concurrent_requests = max(st.max_concurrent_requests, st.concurrent_requests)
        try:
            if path.startswith("/hook"):
                self.hook(path, body)
            else:
                self.api(path, body)
        finally:
            with st.lock:
                st.concurrent_requests -= 1

    def control(self, body):
        st = self.server.state
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            self.send_json(400, {"error": "body must be JSON"})
            return
        with st.lock:
            if req.get("reset_stats"):
                st.reset_stats()
            if "mode" in req or "delay_ms" in req:
                st.fault = {k: v for k, v in req.items() if k not in ("count", "reset_stats")}
                st.fault.setdefault("mode", "ok")
                st.fault_left = req.get("count")
            fault = dict(st.fault)
        self.send_json(200, {"fault": fault})

    def api(self, path, body):
        st = self.server.state
        started = time.time()
        form = {}
        for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
            form[k] = v[0] if len(v) == 1 else v
        status, answer, headers = self.answer(path, form)
        # Logged before the reply goes out, so a client that has its reply finds the line.
        st.record({
            "time": started,
            "answered": time.time(),
            "method": self.command,
            "path": path,
            "content_type": self.headers.get("Content-Type", ""),
            "conn": self.conn_id,
            "form": form,
            "status": status,
            "answer": answer,
        })
        self.send_json(status, answer, headers)

    def hook(self, path, body):
        st = self.server.state
        started = time.time()
        fault = st.take_fault()
        if fault.get("delay_ms"):
            time.sleep(fault["delay_ms"] / 1000.0)
        timestamp = self.headers.get("X-Herald-Timestamp", "")
        signature = self.headers.get("X-Herald-Signature", "")
        entry = {"time": started, "method": self.command, "path": path, "conn": self.conn_id,
                 "content_type": self.headers.get("Content-Type", ""),
                 "timestamp": timestamp, "signature": signature,
                 "body": body.decode("utf-8", "replace")}
        if st.webhook_secret:
            mac = hmac.new(st.webhook_secret.encode(), timestamp.encode() + b"." + body,
                           hashlib.sha256).hexdigest()
            entry["signature_ok"] = hmac.compare_digest("sha256=" + mac, signature)
        mode = fault["mode"]
        headers = None
        if mode == "429":
            status, answer = 429, {"error": "slow down"}
            headers = {"Retry-After": str(fault.get("retry_after", 1))}
        elif mode == "500":
            status, answer = 500, {"error": "internal"}
        elif mode == "error":
            status, answer = int(fault.get("status", 422)), {"error": "rejected"}
        elif st.webhook_secret and not entry["signature_ok"]:
            status, answer = 401, {"error": "bad signature"}
        else:
            with st.lock:
                st.hooks += 1
                n = st.hooks
            status, answer = 200, {"id": "crm-%d" % n}
        entry["status"] = status
        entry["answer"] = answer
        st.record(entry)
        self.send_json(status, answer, headers)

    def authorized(self, account_sid):
        st = self.server.state
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
        except ValueError:
            return False
        return user == st.account_sid == account_sid and password == st.auth_token

    def answer(self, path, form):
        m = PATH_RE.match(path)
        if not m:
            return (*error_body(20404, 404, "The requested resource %s was not found" % path), None)
        account_sid, kind = m.group(1), m.group(2)
        if not self.authorized(account_sid):
            return (*error_body(20003), {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("application/x-www-form-urlencoded"):
            return (*error_body(20001, 400, "Content-Type must be application/x-www-form-urlencoded"), None)
        missing = self.missing_field(kind, form)
        if missing:
            return (*error_body(missing), None)

        fault = MAGIC.get(form.get("To", "")) or self.server.state.take_fault()
        delay_ms = fault.get("delay_ms", 3000 if fault["mode"] == "slow" else 0)
        if delay_ms:
            time.sleep(delay_ms / 1000.0)
        mode = fault["mode"]
        if mode == "429":
            status, err = error_body(20429)
            return status, err, {"Retry-After": str(fault.get("retry_after", 1))}
        if mode == "500":
            return 500, {"code": 20500, "message": "Internal Server Error",
                         "more_info": "https://www.twilio.com/docs/errors/20500", "status": 500}, None
        if mode in ("21610", "21211"):
            return (*error_body(int(mode)), None)
        if mode == "error":
            return (*error_body(int(fault.get("code", 21211)), fault.get("status")), None)
        return 201, self.created(account_sid, kind, form), None

    @staticmethod
    def missing_field(kind, form):
        if kind == "Messages":
            if not form.get("To"):
                return 21604
            if not form.get("From") and not form.get("MessagingServiceSid"):
                return 21603
            if not form.get("Body") and not form.get("MediaUrl") and not form.get("ContentSid"):
                return 21602
        else:
            if not form.get("To"):
                return 21201
            if not form.get("From"):
                return 21213
            if not form.get("Url") and not form.get("Twiml") and not form.get("ApplicationSid"):
                return 21205
        return None

    @staticmethod
    def created(account_sid, kind, form):
        now = rfc2822_now()
        prefix = "SM" if kind == "Messages" else "CA"
        sid = prefix + uuid.uuid4().hex
        base = "/2010-04-01/Accounts/%s/%s/%s" % (account_sid, kind, sid)
        common = {
            "account_sid": account_sid,
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "from": form.get("From"),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "to": form.get("To"),
            "uri": base + ".json",
        }
        if kind == "Messages":
            if not form.get("From"):
                common["status"] = "accepted"  # a Messaging Service picks the sender later
            common.update({
                "body": form.get("Body", ""),
                "date_sent": None,
                "error_code": None,
                "error_message": None,
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "num_media": "0",
                "num_segments": "1",
                "subresource_uris": {"media": base + "/Media.json"},
            })
        else:
            common.update({
                "answered_by": None,
                "caller_name": None,
                "duration": None,
                "end_time": None,
                "parent_call_sid": None,
                "start_time": None,
                "subresource_uris": {"notifications": base + "/Notifications.json"},
            })
        return common


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a batch of 64 may connect at once


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", default="", help="JSON-lines request log; empty: none")
    ap.add_argument("--lifetime", type=float, default=300.0, help="seconds before exiting")
    ap.add_argument("--account-sid", default="AC" + "0" * 32)
    ap.add_argument("--auth-token", default="peer-auth-token")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--webhook-secret", default="", help="verify X-Herald-Signature on /hook")
    args = ap.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args.account_sid, args.auth_token, args.log, args.webhook_secret)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)  # readers never see a half-written port

    def expire():
        time.sleep(args.lifetime)
        os._exit(0)

    threading.Thread(target=expire, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
