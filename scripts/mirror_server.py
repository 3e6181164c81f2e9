"""An HTTPS server on 127.0.0.1 that hands out `make dist`'s archives the two ways `terraform init`
fetches providers over the network (the install test, tests/install.rs):

  /mirror/...   the provider network mirror protocol
                (https://developer.hashicorp.com/terraform/internals/provider-network-mirror-protocol):
                <host>/<namespace>/<type>/index.json lists the versions, <version>.json the archives
                with their `zh:` hashes (the sha256 of each zip, as SHA256SUMS has it)
  /v1/providers/...  the provider registry protocol
                (https://developer.hashicorp.com/terraform/internals/provider-registry-protocol),
                reached through a CLI configuration `host` block: the download answer names
                SHA256SUMS, its detached signature and the public key that made it
  /files/...    the archives, SHA256SUMS and its signature

Both protocols require HTTPS. The server makes a throwaway certificate authority and a leaf for
127.0.0.1 (and localhost) in --cert-dir; Terraform trusts it through SSL_CERT_FILE=<cert-dir>/ca.pem.
It prints `PORT=<port>` once listening and serves until killed.

usage: python mirror_server.py --dist DIR --cert-dir DIR [--gpg-public-key FILE --gpg-key-id ID]
"""
import argparse
import datetime
import http.server
import ipaddress
import json
import os
import re
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import lifeline

NAMESPACE, TYPE = "aft-rs", "aft"
ARCHIVE = re.compile(r"^terraform-provider-aft_(?P<v>[^_]+)_(?P<os>[a-z0-9]+)_(?P<arch>[a-z0-9]+)\.zip$")


def throwaway_ca(cert_dir):
    """Writes ca.pem, server.pem and server.key: a CA valid for a day and a leaf it signed."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "terraform-provider-aft test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    os.makedirs(cert_dir, exist_ok=True)
    with open(os.path.join(cert_dir, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(cert_dir, "server.pem"), "wb") as f:
        f.write(leaf.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(cert_dir, "server.key"), "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


def releases(dist):
    """{version: {"os_arch": (zip name, sha256 hex)}} from the SHA256SUMS files in `dist`."""
    out = {}
    for name in os.listdir(dist):
        if not name.endswith("_SHA256SUMS"):
            continue
        for line in open(os.path.join(dist, name)):
            digest, file = line.split()
            m = ARCHIVE.match(file)
            if m:
                out.setdefault(m["v"], {})[f"{m['os']}_{m['arch']}"] = (file, digest)
    return out


def handler(dist, key_id, public_key):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def send_json(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def base(self):
            return f"https://{self.headers['Host']}"

        def do_GET(self):
            path = self.path.split("?")[0]
            rel = releases(dist)
            mirror = f"/mirror/registry.terraform.io/{NAMESPACE}/{TYPE}/"
            registry = f"/v1/providers/{NAMESPACE}/{TYPE}/"
            if path == "/.well-known/terraform.json":
                return self.send_json({"providers.v1": "/v1/providers/"})
            if path == mirror + "index.json":
                return self.send_json({"versions": {v: {} for v in rel}})
            if path.startswith(mirror) and path.endswith(".json"):
                v = path[len(mirror) : -len(".json")]
                if v in rel:
                    archives = {
                        p: {"url": f"{self.base()}/files/{f}", "hashes": [f"zh:{d}"]} for p, (f, d) in rel[v].items()
                    }
                    return self.send_json({"archives": archives})
            if path == registry + "versions":
                return self.send_json(
                    {
                        "versions": [
                            {
                                "version": v,
                                "protocols": ["6.0"],
                                "platforms": [dict(zip(("os", "arch"), p.split("_"))) for p in ps],
                            }
                            for v, ps in rel.items()
                        ]
                    }
                )
            m = re.match(re.escape(registry) + r"([^/]+)/download/([^/]+)/([^/]+)$", path)
            if m and m[1] in rel and f"{m[2]}_{m[3]}" in rel[m[1]]:
                file, digest = rel[m[1]][f"{m[2]}_{m[3]}"]
                sums = f"terraform-provider-aft_{m[1]}_SHA256SUMS"
                return self.send_json(
                    {
                        "protocols": ["6.0"],
                        "os": m[2],
                        "arch": m[3],
                        "filename": file,
                        "download_url": f"{self.base()}/files/{file}",
                        "shasums_url": f"{self.base()}/files/{sums}",
                        "shasums_signature_url": f"{self.base()}/files/{sums}.sig",
                        "shasum": digest,
                        "signing_keys": {"gpg_public_keys": [{"key_id": key_id, "ascii_armor": public_key}]},
                    }
                )
            if path.startswith("/files/"):
                name = os.path.basename(path)
                full = os.path.join(dist, name)
                if os.path.isfile(full):
                    data = open(full, "rb").read()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
            self.send_error(404)

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dist", required=True)
    p.add_argument("--cert-dir", required=True)
    p.add_argument("--gpg-public-key", default=None)
    p.add_argument("--gpg-key-id", default="")
    a = p.parse_args()
    lifeline.watch()
    throwaway_ca(a.cert_dir)
    public_key = open(a.gpg_public_key).read() if a.gpg_public_key else ""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler(a.dist, a.gpg_key_id, public_key))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(a.cert_dir, "server.pem"), os.path.join(a.cert_dir, "server.key"))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"PORT={server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
