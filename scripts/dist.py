"""Release archives in the Terraform registry's layout (`make dist`).

For VERSION (from Cargo.toml) and each built platform it writes, into the output folder:
  terraform-provider-aft_<VERSION>_<os>_<arch>.zip   holding terraform-provider-aft_v<VERSION>
  terraform-provider-aft_<VERSION>_manifest.json     {"version":1,"metadata":{"protocol_versions":["6.0"]}}
  terraform-provider-aft_<VERSION>_SHA256SUMS        sha256 of every zip and of the manifest
  terraform-provider-aft_<VERSION>_SHA256SUMS.sig    detached GPG signature, when --gpg-key is given
Only linux_amd64 can be built on this machine (the toolchain has no other target); the other
platforms come from .github/workflows/release.yml on a hosted CI.

usage: python dist.py --binary target/release/terraform-provider-aft [--platform linux_amd64]
                      [--out dist] [--version X.Y.Z] [--gpg-key KEYID] [--gpg-home DIR]
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile

NAME = "terraform-provider-aft"
MANIFEST = {"version": 1, "metadata": {"protocol_versions": ["6.0"]}}


def cargo_version(root):
    text = open(os.path.join(root, "Cargo.toml")).read()
    m = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if not m:
        sys.exit("no version in Cargo.toml")
    return m.group(1)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", required=True)
    p.add_argument("--platform", default="linux_amd64")
    p.add_argument("--out", default=os.path.join(root, "dist"))
    p.add_argument("--version", default=None)
    p.add_argument("--gpg-key", default=os.environ.get("GPG_KEY_ID"))
    p.add_argument("--gpg-home", default=None)
    a = p.parse_args()
    version = a.version or cargo_version(root)
    os.makedirs(a.out, exist_ok=True)
    prefix = f"{NAME}_{version}"
    archive = os.path.join(a.out, f"{prefix}_{a.platform}.zip")
    info = zipfile.ZipInfo(f"{NAME}_v{version}", date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = 0o755 << 16  # executable once unpacked
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(archive, "w") as z, open(a.binary, "rb") as b:
        z.writestr(info, b.read())
    manifest = os.path.join(a.out, f"{prefix}_manifest.json")
    with open(manifest, "w") as f:
        json.dump(MANIFEST, f)
    sums = os.path.join(a.out, f"{prefix}_SHA256SUMS")
    files = sorted(f for f in os.listdir(a.out) if f.startswith(prefix) and (f.endswith(".zip") or f == os.path.basename(manifest)))
    with open(sums, "w") as f:
        for name in files:
            f.write(f"{sha256(os.path.join(a.out, name))}  {name}\n")
    if a.gpg_key:
        cmd = ["gpg", "--batch", "--yes", "--local-user", a.gpg_key, "--detach-sign", "--output", sums + ".sig", sums]
        if a.gpg_home:
            cmd[1:1] = ["--homedir", a.gpg_home]
        subprocess.run(cmd, check=True)
    for name in sorted(os.listdir(a.out)):
        if name.startswith(prefix):
            print(f"{os.path.getsize(os.path.join(a.out, name)):>10}  {os.path.join(a.out, name)}")


if __name__ == "__main__":
    main()
