#!/usr/bin/python3
"""A real SMTP server for Herald's tests and benchmarks (aiosmtpd, 127.0.0.1 only).

Writes the bound port to --port-file once it accepts connections, and one JSON line per
received message to --out: the connection number, the envelope, every header decoded, the
decoded text/plain and text/html parts, the longest line and the raw message. Exits by itself
after --lifetime seconds, or on SIGTERM; --stats-file then gets the message and connection
counts and the sink's own CPU time. Fault injection: recipients matching --fail-451 or
--fail-550 (regular expressions) are refused at RCPT TO with that reply. --discard (for the
benchmark) counts messages without parsing or writing them, reading each body in one piece. With --auth-user the client must
log in (PLAIN or LOGIN, without TLS) with that name and the password in SMTP_SINK_PASSWORD.
"""

import argparse
import asyncio
import email
import json
import os
import re
import resource
import signal
import sys
from email import policy

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, args):
        self.args = args
        self.fail_451 = re.compile(args.fail_451) if args.fail_451 else None
        self.fail_550 = re.compile(args.fail_550) if args.fail_550 else None
        self.out = open(args.out, "a", encoding="utf-8") if args.out else None
        self.messages = 0
        self.connections = 0
        self.refused = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.fail_451 and self.fail_451.search(address):
            self.refused += 1
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        if self.fail_550 and self.fail_550.search(address):
            self.refused += 1
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages += 1
        if self.out is not None:
            record = describe(envelope.original_content)
            record["conn"] = server.conn_id
            record["mail_from"] = envelope.mail_from
            record["rcpt_tos"] = list(envelope.rcpt_tos)
            login = session.auth_data
            record["auth_user"] = login.login.decode() if isinstance(login, LoginPassword) else ""
            self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.out.flush()
        return "250 2.0.0 OK queued as %d" % self.messages

    def stats(self):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "messages": self.messages,
            "connections": self.connections,
            "refused": self.refused,
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        }


def describe(raw):
    """Headers decoded, both parts decoded, and the line facts a test asserts on."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    headers = {}
    for name, value in msg.items():
        headers.setdefault(name.lower(), str(value))
    lines = raw.split(b"\r\n")
    record = {
        "headers": headers,
        "content_type": msg.get_content_type(),
        "parts": [p.get_content_type() for p in msg.walk() if not p.is_multipart()],
        "text": "",
        "html": "",
        "max_line": max(len(line) for line in lines),
        "bare_lf": any(b"\n" in line for line in lines),
        "raw": raw.decode("utf-8", errors="replace"),
    }
    for kind in ("plain", "html"):
        part = msg.get_body(preferencelist=(kind,))
        if part is not None and part.get_content_type() == "text/" + kind:
            # Decoded text with the usual "\n" line ends, as a template author wrote it.
            record["text" if kind == "plain" else "html"] = part.get_content().replace("\r\n", "\n")
    return record


class Authenticator:
    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == self.user and
              auth_data.password == self.password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--out", help="JSON-lines file of received messages")
    parser.add_argument("--stats-file")
    parser.add_argument("--lifetime", type=float, default=300.0)
    parser.add_argument("--fail-451")
    parser.add_argument("--fail-550")
    parser.add_argument("--discard", action="store_true")
    parser.add_argument("--auth-user")
    parser.add_argument("--max-body", type=int, default=10 * 1024 * 1024)
    args = parser.parse_args()
    if args.discard:
        args.out = None

    sink = Sink(args)
    smtp_kwargs = {"hostname": "sink.test", "data_size_limit": args.max_body,
                   "enable_SMTPUTF8": True}
    if args.auth_user:
        smtp_kwargs.update(authenticator=Authenticator(args.auth_user,
                                                       os.environ.get("SMTP_SINK_PASSWORD", "")),
                           auth_required=True, auth_require_tls=False)

    class CountingSMTP(SMTP):
        def connection_made(self, transport):
            sink.connections += 1
            self.conn_id = sink.connections
            # asyncio's default 256 KiB receive buffer is mmap'ed and unmapped on every read.
            transport.max_size = 16 * 1024
            super().connection_made(transport)

    class DiscardingSMTP(CountingSMTP):
        """For throughput runs: the body is read in one piece up to CRLF.CRLF and dropped,
        instead of line by line; the commands around it are aiosmtpd's as usual."""

        def connection_made(self, transport):
            super().connection_made(transport)
            self._reader._limit = args.max_body  # readuntil() may buffer a whole message

        def _getaddr(self, arg):
            # "<a@b>" taken as it is: the full RFC 5322 parser is most of the per-message cost.
            text = arg.strip()
            close = text.find(">")
            if not text.startswith("<") or close < 0:
                return super()._getaddr(arg)
            return text[1:close], text[close + 1:]

        async def smtp_DATA(self, arg):
            if not self.envelope.rcpt_tos:
                await self.push("503 Error: need RCPT command")
                return
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._reader.readuntil(b"\r\n.\r\n")
            sink.messages += 1
            self._set_post_data_state()
            await self.push("250 2.0.0 OK queued as %d" % sink.messages)

    protocol = DiscardingSMTP if args.discard else CountingSMTP

    async def serve():
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: done.done() or done.set_result(None))
        loop.call_later(args.lifetime, lambda: done.done() or done.set_result(None))
        server = await loop.create_server(lambda: protocol(sink, **smtp_kwargs),
                                          host="127.0.0.1", port=args.port, backlog=512)
        port = server.sockets[0].getsockname()[1]
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
        await done
        server.close()

    asyncio.run(serve())
    if args.stats_file:
        with open(args.stats_file, "w") as f:
            json.dump(sink.stats(), f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
