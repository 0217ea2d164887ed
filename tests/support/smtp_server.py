"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tanya's code-delivery tests (tests/support/smtp.rs).

    python3 smtp_server.py --mode accept|refuse|defer --dir DIR [--port N]

Prints `listening on PORT` as its first stdout line once it accepts connections (port 0, the
default, picks a free port). Every message that reaches the end of DATA adds a line to
DIR/attempts. In mode `accept` each message is written to DIR/messages/NNNNNN.json as
{"from": envelope sender, "to": [recipients], "data": the raw message}; in mode `refuse` every
message is answered `550 5.7.1 refused` (permanent) and in mode `defer` `451 4.3.0 try again
later` (temporary), and nothing is kept. No TLS, no AUTH: loopback only.
"""

import argparse
import asyncio
import json
import os

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, mode, directory):
        self.mode = mode
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        with open(os.path.join(self.directory, "attempts"), "a") as attempts:
            attempts.write("%d\n" % self.count)
        if self.mode == "refuse":
            return "550 5.7.1 refused"
        if self.mode == "defer":
            return "451 4.3.0 try again later"
        mail = {
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "data": envelope.original_content.decode("utf-8", errors="replace"),
        }
        messages = os.path.join(self.directory, "messages")
        name = "%06d.json" % self.count
        # Written aside, then renamed: a reader never sees half a message.
        partial = os.path.join(messages, name + ".partial")
        with open(partial, "w") as out:
            json.dump(mail, out)
        os.rename(partial, os.path.join(messages, name))
        return "250 2.0.0 accepted"


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["accept", "refuse", "defer"], required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(os.path.join(args.dir, "messages"), exist_ok=True)
    handler = Handler(args.mode, args.dir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="localhost"), "127.0.0.1", args.port
    )
    print("listening on %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
