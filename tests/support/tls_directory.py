"""A TLS-only stand-in of the member directory for tanya's mutual-TLS test (tests/directory_tls.rs).

    python3 tls_directory.py --cert CERT --key KEY --client-ca CA --token TOKEN

Serves HTTPS on 127.0.0.1 (a free port, printed as `listening on PORT`), requires a client
certificate signed by CA, and answers `GET /health` with 200 to the bearer TOKEN (401 to
anything else); every other path is 404. It proves the handshake, not the contract (the
reference directory, examples/directory.rs, does that over plain HTTP on loopback).
"""

import argparse
import http.server
import json
import ssl


def handler(token):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.headers.get("Authorization") != "Bearer " + token:
                return self.answer(401, {"error": {"code": "unauthorized", "message": "bad token"}})
            if self.path == "/health":
                return self.answer(200, {"status": "ok"})
            return self.answer(404, {"error": {"code": "not_found", "message": "no such path"}})

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--client-ca", required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(args.client_ca)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler(args.token))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print("listening on %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
