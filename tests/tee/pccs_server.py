#!/usr/bin/python3
"""A PCCS-compatible test server (Intel PCCS API v4) on loopback, serving the
collateral of fixture directories exactly as PCCS does: the signed JSON
objects wrapped in {"tcbInfo"|"enclaveIdentity": ..., "signature": hex} with
their issuer chain URL-encoded in a header, CRLs as DER. Several directories
may be given (one per platform); requests for an unknown FMSPC get 404.
Every request line is appended to LOG. With --tls CERT KEY it serves HTTPS.
Usage:
    pccs_server.py [--tls CERT KEY] PORT_FILE LOG DIR [DIR...]"""
import http.server
import json
import os
import sys
import urllib.parse

from cryptography import x509

TLS = None
if sys.argv[1] == "--tls":
    TLS = (sys.argv[2], sys.argv[3])
    del sys.argv[1:4]
PORT_FILE, LOG = sys.argv[1], sys.argv[2]
PLATFORMS = {}


def read(d, name):
    return open(os.path.join(d, name), "rb").read()


for d in sys.argv[3:]:
    tcb = open(os.path.join(d, "tcb_info.json"), "rb").read()
    info = json.loads(tcb)
    tee = "tdx" if info["id"] == "TDX" else "sgx"
    issuer = x509.load_pem_x509_certificate(read(d, "pck_crl_issuer_chain.pem"))
    PLATFORMS[(tee, info["fmspc"].lower())] = d
    PLATFORMS.setdefault((tee, "qe"), d)
    ca = "platform" if "Platform" in issuer.subject.rfc4514_string() else "processor"
    PLATFORMS.setdefault(("crl", ca), d)
    PLATFORMS.setdefault(("root",), d)


def signed(d, key, json_name, sig_name):
    return (b'{"' + key.encode() + b'":' + read(d, json_name) + b',"signature":"' +
            read(d, sig_name).hex().encode() + b'"}')


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, body, headers=()):
        self.send_response(200)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with open(LOG, "a") as log:
            log.write(self.path + "\n")
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        parts = url.path.strip("/").split("/")
        chain = lambda d: urllib.parse.quote(read(d, "tcb_signing_chain.pem").decode(), safe="")
        if len(parts) >= 4 and parts[1:3] == ["certification", "v4"]:
            tee, what = parts[0], "/".join(parts[3:])
            if what == "tcb" and (tee, q.get("fmspc", [""])[0].lower()) in PLATFORMS:
                d = PLATFORMS[(tee, q["fmspc"][0].lower())]
                return self.answer(signed(d, "tcbInfo", "tcb_info.json", "tcb_info.sig"),
                                   [("TCB-Info-Issuer-Chain", chain(d))])
            if what == "qe/identity" and (tee, "qe") in PLATFORMS:
                d = PLATFORMS[(tee, "qe")]
                return self.answer(
                    signed(d, "enclaveIdentity", "qe_identity.json", "qe_identity.sig"),
                    [("SGX-Enclave-Identity-Issuer-Chain", chain(d))])
            if what == "pckcrl" and ("crl", q.get("ca", [""])[0]) in PLATFORMS:
                return self.answer(read(PLATFORMS[("crl", q["ca"][0])], "pck_crl.der"))
            if what == "rootcacrl":
                # PCCS answers the root CA CRL hex-encoded
                return self.answer(read(PLATFORMS[("root",)], "root_ca_crl.der").hex().encode())
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if TLS:
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*TLS)
    server.socket = context.wrap_socket(server.socket, server_side=True)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
