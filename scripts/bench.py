"""`make bench`: the provider at fleet scale against moto, next to two floors measured in the same run.

Owned by the benchmarks; it is not part of the provider. On 127.0.0.1 it starts moto (through
scripts/moto_launcher.py, so new accounts do not load ~1,580 AWS managed policies each), the
CodePipeline shim and the counting proxy (scripts/aws_proxy.py; the provider and the shim both
go through it, so every AWS call the provider makes is counted), seeds the AFT baseline
(scripts/seed_baseline.py, straight to moto), then measures with the given provider binary:

  1. `terraform apply` creating N `aft_account_provisioning` + N `aft_customization_pipeline`
     (with --create-chunk K, in states of K accounts applied one after the other and merged into
     the fleet's one state, as the 2N `terraform_data` of the floor: `chunked_apply` says why);
  2. a no-change `terraform plan -detailed-exitcode` (must exit 0), with the AWS calls it makes,
     at each `-parallelism` of --parallelism, with and without `-refresh=false`;
  3. the same no-change plans with the two floors: the zero-work provider (the same plugin layer
     and schemas, every RPC answered without AWS: src/bin/terraform-provider-aft-zero-work.rs,
     installed under the provider's address), whose difference to the provider is the provider's
     own cost, and 2N `terraform_data` resources (the same instance count, Terraform alone),
     whose difference to the zero-work provider is Terraform's cost of a plugin instance;
  4. a one-account change (one account's `account_tags`): its plan and its apply;
  5. the provider's peak RSS (VmHWM of every process running the binary, sampled every 50 ms);
  6. variants of the headline no-change plan in the same run: the plugin transport over TCP
     (AFT_PLUGIN_TRANSPORT=tcp) against the default unix socket, and with --baseline DIR another
     build of the provider (the "before" of a change), each with the time from process start to
     the handshake line (measured by starting the binary directly, --handshakes times);
  7. where a no-change plan's time goes: each provider process (the zero-work one too) appends
     its RPC counts and durations to AFT_TIMINGS_FILE (src/plugin/timings.rs), summed over the
     processes.

The no-change plans (2, 3 and 6) run --repeat times, interleaved (the provider and its floors one
after the other, their order rotated each round); medians are reported. Results go to --out
(Markdown: this N's section and the slope table are rewritten, other N's sections and the
hand-written analysis kept), stdout, and target/bench/results-N.json (raw).

usage: .venv/bin/python scripts/bench.py --provider-dir target/release --accounts 1000
"""
import argparse
import atexit
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shutil
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
AFT = "111111111111"  # scripts/seed_baseline.py's AFT management account
OUS = ["Sandbox", "Workloads", "Prod"]  # created by seed_baseline (Parking is for parked accounts)
# provider / zero-work floor at N = 1,000 (issue 28); the terraform_data ratio has no target the
# provider can meet (Terraform's own cost per plugin instance is in it)
TARGET_ZERO_WORK_RATIO, TARGET_CALLS, TARGET_RSS_MB = 1.05, 0.2, 100

# Every process this script started (services and the running terraform), stopped by pid at exit.
CHILDREN: list[subprocess.Popen] = []


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- processes

def stop_children() -> None:
    """Stop every child this script started: its process group (it leads one), TERM then KILL."""
    while CHILDREN:
        p = CHILDREN.pop()
        if p.poll() is not None:
            continue
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                p.kill()
            p.wait(5)


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)  # unwinds through the finally blocks, which stop the children


def spawn(cmd, log, env=None, stdout=None) -> subprocess.Popen:
    """Start a child in its own process group (so it can be stopped with everything it forks)."""
    p = subprocess.Popen(cmd, env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                         stdout=stdout or open(log, "w"), stderr=open(log + ".err" if stdout else log, "a"),
                         start_new_session=True)
    CHILDREN.append(p)
    return p


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, body=None, timeout=30):
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"},
                                 method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def wait_until(what, check, proc, log, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} exited with {proc.returncode}:\n{tail(log)}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError(f"{what} not ready after {timeout}s:\n{tail(log)}")


def tail(path, lines=40) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip() or "(empty)"
    except OSError:
        return "(no log)"


def start_services(work, policies):
    """moto (launcher), the counting proxy in front of it, the CodePipeline shim in front of the proxy."""
    logs = os.path.join(work, "logs")
    port = free_port()
    moto_env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true", AFT_MOTO_MANAGED_POLICIES=policies)
    moto_env.pop("MOTO_ACCOUNT_ID", None)
    moto_log = os.path.join(logs, "moto.log")
    moto = spawn([PY, "scripts/moto_launcher.py", "-H", "127.0.0.1", "-p", str(port)], moto_log, env=moto_env)
    moto_url = f"http://127.0.0.1:{port}"
    wait_until("moto", lambda: urllib.request.urlopen(moto_url + "/moto-api/", timeout=5).close() or True,
               moto, moto_log)
    # Step Functions really run the state machines, as in `make demo` and the tests
    http(moto_url + "/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})

    proxy_log = os.path.join(logs, "proxy.log")
    proxy = spawn([PY, "scripts/aws_proxy.py", "--upstream", moto_url, "--port", "0"], proxy_log,
                  stdout=subprocess.PIPE)
    line = read_line(proxy, 30)
    if not line.startswith("PORT="):
        raise BenchError(f"aws_proxy did not print PORT=: {line!r}\n{tail(proxy_log + '.err')}")
    proxy_url = f"http://127.0.0.1:{int(line[5:])}"

    shim_port = free_port()
    shim_log = os.path.join(logs, "shim.log")
    shim = spawn([PY, "scripts/codepipeline_shim.py", str(shim_port), proxy_url], shim_log)
    wait_until("codepipeline_shim", lambda: socket.create_connection(("127.0.0.1", shim_port), 1).close() or True,
               shim, shim_log, 30)
    return {"moto": moto_url, "proxy": proxy_url, "shim": f"http://127.0.0.1:{shim_port}",
            "pids": {"moto": moto.pid, "proxy": proxy.pid, "shim": shim.pid}}


def read_line(proc, timeout) -> str:
    out = []
    t = threading.Thread(target=lambda: out.append(proc.stdout.readline().decode().strip()), daemon=True)
    t.start()
    t.join(timeout)
    return out[0] if out else ""


# ---------------------------------------------------------------- RSS sampling

class RssSampler(threading.Thread):
    """Every 50 ms: the peak RSS (VmHWM, kB) of the processes running `binary` that this
    terraform (`tf_pid`, a session leader) started, and of terraform itself. Other processes
    running the same binary (a concurrent `cargo test`, say) are not counted."""

    def __init__(self, binary, tf_pid):
        super().__init__(daemon=True)
        self.binary, self.tf_pid = binary, tf_pid
        self.peak_kb, self.tf_peak_kb, self.pids = 0, 0, set()
        self.cpu = {}  # pid -> last seen user+system CPU seconds
        self.halt = threading.Event()

    def ours(self, pid) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return self.tf_pid in (int(fields[1]), int(fields[3]))  # ppid, session id
        except (OSError, IndexError, ValueError):
            return False

    def is_provider(self, pid) -> bool:
        try:  # a rebuilt binary shows as "<path> (deleted)" in the processes still running the old one
            return os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)") == self.binary
        except OSError:
            pass
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f.read().split(b"\0")[0].decode(errors="replace") == self.binary
        except OSError:
            return False

    @staticmethod
    def hwm_kb(pid) -> int:
        try:
            with open(f"/proc/{pid}/status") as f:
                vals = [int(l.split()[1]) for l in f if l.startswith(("VmHWM:", "VmRSS:"))]
            return max(vals, default=0)
        except (OSError, ValueError, IndexError):
            return 0

    @staticmethod
    def cpu_s(pid) -> float:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        except (OSError, IndexError, ValueError):
            return 0.0

    def sample(self):
        self.tf_peak_kb = max(self.tf_peak_kb, self.hwm_kb(self.tf_pid))
        self.cpu[self.tf_pid] = max(self.cpu.get(self.tf_pid, 0.0), self.cpu_s(self.tf_pid))
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) != self.tf_pid and self.ours(name) and self.is_provider(name):
                self.pids.add(int(name))
                self.peak_kb = max(self.peak_kb, self.hwm_kb(name))
                self.cpu[int(name)] = max(self.cpu.get(int(name), 0.0), self.cpu_s(name))

    def run(self):
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(0.05)

    def stop(self):
        self.halt.set()
        self.join()


# ---------------------------------------------------------------- terraform

class Terraform:
    def __init__(self, args, work, services):
        self.bin, self.binary, self.work = args.terraform, args.binary, work
        self.log_dir = os.path.join(work, "logs")
        tfrc = os.path.join(work, "dev.tfrc")
        with open(tfrc, "w") as f:
            f.write('provider_installation {\n  dev_overrides {\n'
                    f'    "aft-rs/aft" = "{args.provider_dir}"\n  }}\n  direct {{}}\n}}\n')
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TF_LOG", "TF_CLI_ARGS", "AWS_", "RUST_LOG"))}
        env.update({
            "TF_CLI_CONFIG_FILE": tfrc, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1",
            "RUST_BACKTRACE": "0",
            "AWS_ENDPOINT_URL": services["proxy"], "AWS_ENDPOINT_URL_CODEPIPELINE": services["shim"],
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.path.join(work, "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(work, "aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        self.env = env

    def variant(self, v):
        """(env, binary) for a plan variant: its own dev_overrides directory and extra variables."""
        if v["dir"] == os.path.dirname(self.binary) and not v["env"]:
            return self.env, self.binary
        tfrc = os.path.join(self.work, f"dev-{re.sub(r'[^a-z0-9]+', '-', v['label'])}.tfrc")
        with open(tfrc, "w") as f:
            f.write('provider_installation {\n  dev_overrides {\n'
                    f'    "aft-rs/aft" = "{v["dir"]}"\n  }}\n  direct {{}}\n}}\n')
        return dict(self.env, TF_CLI_CONFIG_FILE=tfrc, **v["env"]), os.path.join(v["dir"], "terraform-provider-aft")

    def run(self, name, chdir, args, timeout, ok=(0,), variant=None):
        """Run one terraform command; -> {wall_s, exit, provider_peak_rss_mb, ...}. Raises on a bad exit.
        With a variant, its provider build and variables; the providers' timings are read back."""
        out, err = (os.path.join(self.log_dir, f"{name}.{s}") for s in ("out", "err"))
        env, binary = self.variant(variant) if variant else (self.env, self.binary)
        timings = os.path.join(self.log_dir, f"{name}.timings.jsonl")
        env = dict(env, AFT_TIMINGS_FILE=timings)
        cmd = [self.bin, f"-chdir={chdir}", *args, "-no-color"]
        load1 = os.getloadavg()[0]
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, env=env, cwd=self.work, stdin=subprocess.DEVNULL,
                             stdout=open(out, "w"), stderr=open(err, "w"), start_new_session=True)
        CHILDREN.append(p)
        sampler = RssSampler(binary, p.pid)
        sampler.start()
        try:
            code = p.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            sampler.stop()
            wall = time.monotonic() - t0
            stop_child(p)
        if code is None:
            raise BenchError(f"`terraform {' '.join(args)}` ({name}) timed out after {timeout}s\n"
                             f"--- stderr (tail) ---\n{tail(err)}\n--- stdout (tail) ---\n{tail(out, 20)}")
        if code not in ok:
            raise BenchError(f"`terraform {' '.join(args)}` ({name}) exited {code}, expected {ok}\n"
                             f"--- stderr (tail) ---\n{tail(err)}\n--- stdout (tail) ---\n{tail(out, 30)}")
        summary = ""
        with open(out, errors="replace") as f:
            for line in f:
                if re.match(r"(Plan|Apply complete!|No changes\.)", line):
                    summary = line.strip()
        r = {"name": name, "wall_s": round(wall, 3), "exit": code, "summary": summary, "load1": round(load1, 2),
             "provider_peak_rss_mb": round(sampler.peak_kb / 1024, 1),
             "provider_processes": len(sampler.pids),
             "terraform_peak_rss_mb": round(sampler.tf_peak_kb / 1024, 1),
             # CPU seconds (sampled every 50 ms, so the last 50 ms of a process may be missed)
             "provider_cpu_s": round(sum(v for k, v in sampler.cpu.items() if k in sampler.pids), 2),
             "terraform_cpu_s": round(sampler.cpu.get(p.pid, 0.0), 2),
             "timings": read_timings(timings)}
        print(f"    {name}: {wall:.2f}s exit {code}, provider peak RSS {r['provider_peak_rss_mb']} MB"
              f" ({len(sampler.pids)} processes), CPU provider {r['provider_cpu_s']} s,"
              f" terraform {r['terraform_cpu_s']} s; {summary}", flush=True)
        return r


def read_timings(path):
    """The AFT_TIMINGS_FILE lines of one command's provider processes, summed: {processes,
    handshake_ms (each process, start to handshake line), spans: {name: {count, total_ms, max_ms}}}.
    A build without timings (an older baseline) writes nothing: None."""
    try:
        with open(path) as f:
            lines = [json.loads(l) for l in f if l.strip()]
    except (OSError, ValueError):
        return None
    if not lines:
        return None
    spans = {}
    for line in lines:
        for k, v in line["spans"].items():
            s = spans.setdefault(k, {"count": 0, "total_ms": 0.0, "max_ms": 0.0})
            s["count"] += v["count"]
            s["total_ms"] = round(s["total_ms"] + v["total_us"] / 1000, 1)
            s["max_ms"] = round(max(s["max_ms"], v["max_us"] / 1000), 1)
    # the process that planned (the most PlanResourceChange calls): when its phases began and
    # ended, from its start (builds before first_us/last_us existed give none)
    planner = max(lines, key=lambda l: l["spans"].get("rpc PlanResourceChange", {}).get("count", 0))
    at = lambda name, key: (planner["spans"].get(name, {}).get(key, 0) / 1e6) or None
    phases = None
    if "first_us" in planner["spans"].get("rpc PlanResourceChange", {}):
        phases = {"configured_s": at("rpc ConfigureProvider", "last_us"),
                  "reads_s": (at("rpc ReadResource", "first_us"), at("rpc ReadResource", "last_us")),
                  "plans_s": (at("rpc PlanResourceChange", "first_us"), at("rpc PlanResourceChange", "last_us")),
                  "lifetime_s": (planner.get("lifetime_us") or 0) / 1e6}
    return {"processes": len(lines),
            "handshake_ms": sorted(round(l["handshake_us"] / 1000, 1) for l in lines if l.get("handshake_us")),
            "spans": spans, "phases": phases}


def phases_text(who, p) -> str:
    """One sentence on when the planning process's phases ran (see read_timings)."""
    if not p:
        return ""
    f = lambda x: f"{x:.1f} s" if x is not None else "–"
    (r0, r1), (p0, p1) = p["reads_s"], p["plans_s"]
    reads = (f"its refresh ran from {f(r0)} to {f(r1)} (the first `ReadResource` {f(r0 - p['configured_s'])}"
             " after `ConfigureProvider` ended)" if r0 is not None and p["configured_s"] is not None
             else "it read nothing (no refresh)")
    return (f"{who}'s planning process (times from its start): `ConfigureProvider` ended at {f(p['configured_s'])};"
            f" {reads}; `PlanResourceChange` from {f(p0)} to {f(p1)}; it lived {f(p['lifetime_s'])}.")


MAGIC_COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"  # go-plugin's, for Terraform


def client_cert_pem() -> str:
    """A throwaway client certificate, as Terraform's AutoMTLS passes in PLUGIN_CLIENT_CERT."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def handshake_times(binary, extra_env, runs, work):
    """Starts `binary` as Terraform would (magic cookie, protocol 6, a client certificate) `runs`
    times; -> the milliseconds from spawn to its handshake line, sorted, and the line's network."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_", "AFT_"))}
    env.update({"TF_PLUGIN_MAGIC_COOKIE": MAGIC_COOKIE, "PLUGIN_PROTOCOL_VERSIONS": "6",
                "PLUGIN_CLIENT_CERT": client_cert_pem(), "PLUGIN_UNIX_SOCKET_DIR": work, **extra_env})
    times, network = [], None
    for _ in range(runs):
        t0 = time.monotonic()
        p = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        line = p.stdout.readline().decode()
        times.append(round((time.monotonic() - t0) * 1000, 2))
        p.terminate()
        p.wait(10)
        if line.count("|") < 5:
            raise BenchError(f"{binary} printed no handshake line: {line!r}")
        network = line.split("|")[2]
    return sorted(times), network


def hold(tf, work, services):
    """--hold: leave the services up for experiments until a signal arrives."""
    env_sh = os.path.join(work, "env.sh")
    with open(env_sh, "w") as f:
        for k in sorted(tf.env):
            if k.startswith(("TF_", "AWS_", "CHECKPOINT")):
                f.write(f"export {k}={shlex.quote(tf.env[k])}\n")
        f.write(f"export PROXY={shlex.quote(services['proxy'])}\n")
    print(f"==> holding: . {env_sh}; terraform -chdir={work}/fleet plan; Ctrl-C to stop", flush=True)
    while True:
        signal.pause()


def stop_child(p):
    """A finished or timed-out terraform: stop its process group (providers included), forget it."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(5)
    if p in CHILDREN:
        CHILDREN.remove(p)


# ---------------------------------------------------------------- configurations

def accounts_local(n, part=None) -> str:
    """A local map of n accounts (key => OU) built in HCL; range() stops at 1024, hence the product.
    With part = (lo, hi), only the accounts lo <= i < hi of the same map (one state of a chunked create)."""
    bound = "p[0] * 1000 + p[1] < local.n" if part is None else \
        f"p[0] * 1000 + p[1] >= {part[0]} && p[0] * 1000 + p[1] < {part[1]}"
    return f"""locals {{
  n   = {n}
  ous = {json.dumps(OUS)}
  accounts = {{
    for p in setproduct(range(ceil(local.n / 1000)), range(1000)) :
    format("bench-%05d", p[0] * 1000 + p[1]) => local.ous[(p[0] * 1000 + p[1]) % length(local.ous)]
    if {bound}
  }}
}}

# the one-account change of the benchmark: `-var changed_account=bench-00000`
variable "changed_account" {{
  type    = string
  default = ""
}}
"""


PROVIDER_BLOCK = f"""terraform {{
  required_providers {{
    aft = {{
      source = "aft-rs/aft"
    }}
  }}
}}

provider "aft" {{
  assume_role {{
    role_arn = "arn:aws:iam::{AFT}:role/AWSAFTAdmin"
  }}
  account_factory {{
    method = "organizations"
  }}
}}
"""

# The two shapes of a fleet (--shape). `module`: one module instance per account holding its
# account and its pipeline (as AFT's own account-request repository has a module per account);
# Terraform's cost grows with N in time only. `for_each`: two resources with `for_each`, the
# pipelines' over the accounts; every instance's reference to the other resource makes Terraform
# build that resource's whole value, so its time *and memory* grow with N² (3.9 GB for a
# 2 × 2,000 `terraform_data` plan, about 24 GB expected at 5,000).
SHAPES = ("module", "for_each")

ACCOUNT_MODULE = """terraform {
  required_providers {
    aft = {
      source = "aft-rs/aft"
    }
  }
}

variable "name" {
  type = string
}

variable "ou" {
  type = string
}

variable "revision" {
  type = string
}

resource "aft_account_provisioning" "this" {
  control_tower_parameters = {
    AccountEmail              = "${var.name}@example.com"
    AccountName               = var.name
    ManagedOrganizationalUnit = var.ou
    SSOUserEmail              = "platform@example.com"
    SSOUserFirstName          = "Platform"
    SSOUserLastName           = "Team"
  }
  account_tags = {
    Owner    = "bench"
    Revision = var.revision
  }
}

resource "aft_customization_pipeline" "this" {
  account_id = aft_account_provisioning.this.account_id
  triggers = {
    customizations_version = "1"
  }
}
"""

FLOOR_MODULE = """variable "name" {
  type = string
}

variable "ou" {
  type = string
}

variable "revision" {
  type = string
}

resource "terraform_data" "account" {
  input = {
    email   = "${var.name}@example.com"
    ou      = var.ou
    owner   = "bench"
    version = var.revision
  }
}

# one more per account, depending on the first, like the pipeline: the same 2N instances
resource "terraform_data" "pipeline" {
  input = {
    account = terraform_data.account.id
    version = "1"
  }
}
"""

MODULE_CALL = """module "account" {
  source   = "./account"
  for_each = local.accounts

  name     = each.key
  ou       = each.value
  revision = each.key == var.changed_account ? "2" : "1"
}
"""


def provider_config(n, shape, part=None) -> dict:
    """The fleet's files (path => text); with part, those of one chunk of it (`accounts_local`)."""
    if shape == "module":
        return {"main.tf": f"{PROVIDER_BLOCK}\n{accounts_local(n, part)}\n{MODULE_CALL}",
                "account/main.tf": ACCOUNT_MODULE}
    return {"main.tf": f"""{PROVIDER_BLOCK}
{accounts_local(n, part)}
resource "aft_account_provisioning" "fleet" {{
  for_each = local.accounts

  control_tower_parameters = {{
    AccountEmail              = "${{each.key}}@example.com"
    AccountName               = each.key
    ManagedOrganizationalUnit = each.value
    SSOUserEmail              = "platform@example.com"
    SSOUserFirstName          = "Platform"
    SSOUserLastName           = "Team"
  }}
  account_tags = {{
    Owner    = "bench"
    Revision = each.key == var.changed_account ? "2" : "1"
  }}
}}

resource "aft_customization_pipeline" "fleet" {{
  for_each = aft_account_provisioning.fleet

  account_id = each.value.account_id
  triggers = {{
    customizations_version = "1"
  }}
}}
"""}


def floor_config(n, shape, part=None) -> dict:
    """The terraform_data floor's files (path => text), in the fleet's shape."""
    if shape == "module":
        return {"main.tf": f"{accounts_local(n, part)}\n{MODULE_CALL}", "account/main.tf": FLOOR_MODULE}
    return {"main.tf": f"""{accounts_local(n, part)}
resource "terraform_data" "fleet" {{
  for_each = local.accounts

  input = {{
    email   = "${{each.key}}@example.com"
    ou      = each.value
    owner   = "bench"
    version = each.key == var.changed_account ? "2" : "1"
  }}
}}

# one more per account, depending on the first, like the pipelines: the same 2N instances
resource "terraform_data" "pipeline" {{
  for_each = terraform_data.fleet

  input = {{
    account = each.value.id
    version = "1"
  }}
}}
"""}


def write_files(d, files) -> None:
    """Write a configuration's files (path => text) under directory d."""
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(d, path)), exist_ok=True)
        with open(os.path.join(d, path), "w") as f:
            f.write(text)


def merge_states(paths) -> dict:
    """One state holding the resources of the chunks' states. Each chunk's resources are module
    instances (or for_each instances) of keys no other chunk has, so the union is the state one
    apply of the whole configuration writes, in another order (Terraform sorts it when it writes)."""
    states = []
    for path in paths:
        with open(path) as f:
            states.append(json.load(f))
    first = states[0]
    merged = {k: first[k] for k in ("version", "terraform_version", "lineage")}
    merged.update(serial=sum(st["serial"] for st in states), outputs={}, check_results=None, resources=[])
    by_address = {}
    for st in states:
        for r in st["resources"]:
            key = (r.get("module", ""), r["mode"], r["type"], r["name"])
            if key in by_address:  # a for_each resource: its instances are spread over the chunks
                by_address[key]["instances"].extend(r["instances"])
            else:
                by_address[key] = dict(r, instances=list(r["instances"]))
                merged["resources"].append(by_address[key])
    return merged


def chunked_apply(tf, name, target, files_of, n, chunk, shape, timeout) -> dict:
    """Create the N instances of `target` in states of `chunk` accounts each, applied one after the
    other, then merge them into `target`'s state. Why: Terraform's local backend writes the whole
    state file after every instance it creates (statemgr.Filesystem.WriteState, from the apply's
    state hook), so one apply's writes grow with N²: at N = 3,000 they were more than a third of
    Terraform's CPU by perf, and the create apply at N = 5,000 took two hours. The plans measured
    afterwards read the merged state as they would read one apply's."""
    runs, states = [], []
    for i, lo in enumerate(range(0, n, chunk)):
        d = f"{target}-part-{i + 1:02d}"
        write_files(d, files_of(n, shape, (lo, min(lo + chunk, n))))
        if shape == "module":
            tf.run(f"get-{os.path.basename(d)}", d, ["get"], 300)
        runs.append(tf.run(f"{name}-{i + 1:02d}", d, ["apply", "-auto-approve", "-input=false"], timeout))
        states.append(os.path.join(d, "terraform.tfstate"))
    merged = merge_states(states)
    with open(os.path.join(target, "terraform.tfstate"), "w") as f:
        json.dump(merged, f, indent=2)
    for path in states:
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    total = lambda k: round(sum(r[k] for r in runs), 3)
    return {"name": name, "wall_s": total("wall_s"), "exit": 0, "chunk": chunk, "chunks": len(runs),
            "summary": f"{len(runs)} applies of up to {chunk} accounts, states merged",
            "load1": runs[0]["load1"], "provider_peak_rss_mb": max(r["provider_peak_rss_mb"] for r in runs),
            "provider_processes": sum(r["provider_processes"] for r in runs),
            "terraform_peak_rss_mb": max(r["terraform_peak_rss_mb"] for r in runs),
            "provider_cpu_s": total("provider_cpu_s"), "terraform_cpu_s": total("terraform_cpu_s"),
            "timings": runs[-1]["timings"], "runs": runs}


# ---------------------------------------------------------------- report

def machine() -> dict:
    mem_kb = cpu = None
    try:
        with open("/proc/meminfo") as f:
            mem_kb = next(int(l.split()[1]) for l in f if l.startswith("MemTotal:"))
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), None)
    except (OSError, StopIteration):
        pass
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": cpu or platform.processor(),
            "memory_gb": round(mem_kb / 1024 / 1024, 1) if mem_kb else None,
            "kernel": platform.release()}


def load_summary(m) -> dict:
    """The 1-minute load average at the starts of the no-change plans (the machine may be shared)."""
    loads = [r["load1"] for g in m.get("plans", {}).values()
             for k in ("provider", "zero_work", "terraform_data") for r in g[k]["runs"] if "load1" in r]
    if not loads:
        return {}
    return {"min": min(loads), "max": max(loads), "median": round(statistics.median(loads), 2)}


def terraform_version(tf) -> str:
    try:
        out = subprocess.run([tf, "version", "-json"], capture_output=True, timeout=120,
                             env=dict(os.environ, CHECKPOINT_DISABLE="1")).stdout
        return json.loads(out)["terraform_version"]
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        return "unknown"


def ok(met: bool) -> str:
    return "✅" if met else "❌"


def md_table(rows) -> str:
    """A Markdown table from rows of cells, the first row the header."""
    head = "|" + "---|" * len(rows[0])
    return "\n".join("| " + " | ".join(r) + " |" + ("\n" + head if i == 0 else "") for i, r in enumerate(rows))


def paired(a, b):
    """The median over the rounds of a's wall time over b's (runs of the same round, in order)."""
    return round(statistics.median(x["wall_s"] / y["wall_s"] for x, y in zip(a, b)), 3)


def median_run(runs):
    """The run with the median wall time (the lower middle one of an even count)."""
    rs = sorted(runs, key=lambda r: r["wall_s"])
    return rs[(len(rs) - 1) // 2]


def table(res) -> str:
    n, m = res["accounts"], res["measurements"]
    rows = [("Metric", "Measured", "Target", "Met")]
    a = m["apply_create"]
    how = f" ({a['chunks']} states of {a['chunk']}, one after the other)" if a.get("chunks") else ""
    rows.append((f"`apply`: create {n} accounts + {n} pipelines{how}",
                 f"{a['wall_s']:.1f} s ({a['wall_s'] / n:.2f} s/account), {a['aws_calls']} AWS calls", "", ""))
    pp, zp, fp = m["plan_nochange"], m["zero_work_plan_nochange"], m["floor_plan_nochange"]
    rows.append((f"No-change `plan`, provider (median of {len(pp['runs'])})", f"{pp['median_s']:.2f} s", "", ""))
    rows.append((f"No-change `plan`, zero-work provider (floor 1, median of {len(zp['runs'])})",
                 f"{zp['median_s']:.2f} s", "", ""))
    rows.append((f"No-change `plan`, {2 * n} `terraform_data` (floor 2, median of {len(fp['runs'])})",
                 f"{fp['median_s']:.2f} s", "", ""))
    ratio = m["ratio_plan_vs_zero_work"]
    h = m["plans"][m["headline"]]
    rows.append(("**Provider / zero-work floor** (the provider's own cost; median of the rounds' ratios)",
                 f"**{h['ratio_vs_zero_work_paired']:.2f}×** (ratio of the medians {ratio:.2f}×)",
                 f"≤ {TARGET_ZERO_WORK_RATIO}×", ok(h["ratio_vs_zero_work_paired"] <= TARGET_ZERO_WORK_RATIO)))
    rows.append(("Provider / `terraform_data` floor (with Terraform's cost of a plugin instance)",
                 f"{h['ratio_vs_terraform_data_paired']:.2f}× (ratio of the medians {m['ratio_plan_vs_floor']:.2f}×)",
                 "", ""))
    rows.append(("↳ zero-work / `terraform_data` (Terraform's cost of a plugin instance alone)",
                 f"{zp['median_s'] / fp['median_s']:.2f}×", "", ""))
    calls = m["aws_calls_nochange_plan"]
    rows.append(("AWS calls, no-change plan", f"{calls['total']} ({calls['per_account']:.2f}/account)",
                 f"≤ {TARGET_CALLS}/account", ok(calls["per_account"] <= TARGET_CALLS)))
    by = sorted(calls["by_action"].items(), key=lambda kv: (-kv[1], kv[0]))
    rows.append(("↳ by action (`service:Action` count)", ", ".join(f"`{k}` {v}" for k, v in by) or "none", "", ""))
    if "change" in m:
        c = m["change"]
        rows.append(("One-account change (`account_tags`): `plan`",
                     f"{c['plan']['wall_s']:.2f} s, {c['plan']['aws_calls']} AWS calls", "", ""))
        rows.append(("One-account change: `apply`",
                     f"{c['apply']['wall_s']:.2f} s, {c['apply']['aws_calls']} AWS calls", "", ""))
    for label, v in m.get("variants", {}).items():
        what = {"tcp": "plugin transport over TCP (`AFT_PLUGIN_TRANSPORT=tcp`)",
                "baseline": "the `--baseline` build"}.get(label, label)
        extra = f", {v['aws_calls']} AWS calls" if v.get("aws_calls") is not None else ""
        rows.append((f"No-change `plan`, {what} (median of {len(v['runs'])})",
                     f"{v['median_s']:.2f} s ({v['paired_vs_default']:.2f}× the default, median of the rounds'"
                     f" ratios{extra})", "", ""))
    for label, h in m.get("handshake", {}).items():
        rows.append((f"Process start → handshake line, {label} (median of {len(h['runs_ms'])})",
                     f"{h['median_ms']:.1f} ms (`{h['network']}`)", "", ""))
    for label, key in [("no-change plans", "rss_plan_mb"), ("create apply", "rss_apply_mb"),
                       ("change plan", "rss_change_plan_mb"), ("change apply", "rss_change_apply_mb")]:
        if key in m:
            rows.append((f"Provider peak RSS, {label}", f"{m[key]:.1f} MB", f"< {TARGET_RSS_MB} MB",
                         ok(m[key] < TARGET_RSS_MB)))
    return md_table(rows)


def settings_table(res) -> str:
    """Every setting of the no-change plan: the provider beside both floors, calls, memory, CPU."""
    n = res["accounts"]
    rows = [("`plan` flags", "provider", "zero-work", "`terraform_data`", "provider / zero-work (rounds' median)",
             "provider / `terraform_data` (rounds' median)", "AWS calls (per account)", "provider peak RSS",
             "CPU, provider's plan: provider / Terraform", "CPU, zero-work's plan: provider / Terraform")]
    for label, g in res["measurements"]["plans"].items():
        p, z = median_run(g["provider"]["runs"]), median_run(g["zero_work"]["runs"])
        rows.append((f"`{label}`", f"{g['provider']['median_s']:.2f} s", f"{g['zero_work']['median_s']:.2f} s",
                     f"{g['terraform_data']['median_s']:.2f} s", f"{g['ratio_vs_zero_work_paired']:.2f}×",
                     f"{g['ratio_vs_terraform_data_paired']:.2f}×",
                     f"{g['aws_calls']['total']} ({g['aws_calls']['total'] / n:.3f})", f"{g['rss_mb']:.1f} MB",
                     f"{p['provider_cpu_s']:.2f} s / {p['terraform_cpu_s']:.1f} s",
                     f"{z['provider_cpu_s']:.2f} s / {z['terraform_cpu_s']:.1f} s"))
    return md_table(rows)


def breakdown(res) -> str:
    """Where the median default no-change plan's time went, from the AFT_TIMINGS_FILE of its
    provider processes, beside the zero-work provider's median plan of the same setting (and the
    --baseline build's, when there is one)."""
    m = res["measurements"]
    r, z = median_run(m["plan_nochange"]["runs"]), median_run(m["zero_work_plan_nochange"]["runs"])
    none = {"spans": {}, "handshake_ms": [], "processes": 0}
    t, tz = r.get("timings"), z.get("timings") or none
    if not t:
        return ""
    cols = [("provider", r, t), ("zero-work", z, tz)]
    if m.get("variants", {}).get("baseline"):
        b = median_run(m["variants"]["baseline"]["runs"])
        cols.append(("`--baseline` build", b, b.get("timings") or none))
    floor = m["floor_plan_nochange"]["median_s"]
    lines = [
        f"Where the time of the median no-change plan (`{m['headline']}`) went, against {floor:.2f} s for"
        " `terraform_data`: " + "; ".join(
            f"{who} {run['wall_s']:.2f} s wall, Terraform {run['terraform_cpu_s']} s of CPU and the"
            f" {tt['processes']} provider processes {run['provider_cpu_s']} s" for who, run, tt in cols) + "."
        " Each process timed its own RPCs from the request's arrival to the answer's headers (decoding and"
        " provider code included, encoding of the answer body not); calls overlap, so totals can exceed"
        " the wall time.",
    ]
    for who, _, tt in cols:
        if tt.get("phases"):
            lines += ["", phases_text(who[0].upper() + who[1:], tt["phases"])]
    lines += ["", "| What | " + " | ".join(f"{who}: count | total | longest" for who, _, _ in cols) + " |",
              "|---|" + "---|---|---|" * len(cols)]
    hs_cell = lambda h: f"{len(h)} | {sum(h):.1f} ms | {max(h, default=0):.1f} ms"
    lines.append("| process start → handshake line (each process) | "
                 + " | ".join(hs_cell(tt["handshake_ms"]) for _, _, tt in cols) + " |")
    names = sorted(set().union(*(tt["spans"] for _, _, tt in cols)),
                   key=lambda k: (-t["spans"].get(k, {}).get("total_ms", 0.0), k))
    cell = lambda s: (f"{s['count']} | {s['total_ms']:.1f} ms | {s['max_ms']:.1f} ms" if s else "– | – | –")
    for name in names:
        lines.append(f"| `{name}` | " + " | ".join(cell(tt["spans"].get(name)) for _, _, tt in cols) + " |")
    return "\n".join(lines)


def summary(res) -> dict:
    """The figures of one run that the slope table across runs needs (kept in the report)."""
    m = res["measurements"]
    plans = {}
    for label, g in m["plans"].items():
        p, z = median_run(g["provider"]["runs"]), median_run(g["zero_work"]["runs"])
        plans[label] = {"provider_s": g["provider"]["median_s"], "zero_work_s": g["zero_work"]["median_s"],
                        "terraform_data_s": g["terraform_data"]["median_s"], "calls": g["aws_calls"]["total"],
                        "vs_zero_work": g["ratio_vs_zero_work_paired"],
                        "vs_terraform_data": g["ratio_vs_terraform_data_paired"],
                        "rss_mb": g["rss_mb"], "provider_cpu_s": p["provider_cpu_s"],
                        "terraform_cpu_s": p["terraform_cpu_s"], "zero_work_terraform_cpu_s": z["terraform_cpu_s"]}
    return {"accounts": res["accounts"], "shape": res.get("shape", "for_each"), "date": res["date"],
            "repeat": res["repeat"], "plans": plans}


def section(res) -> str:
    """This run's part of the report, between markers naming its N (a run replaces only its own N)."""
    mc, env, n = res["machine"], res["environment"], res["accounts"]
    load = mc.get("loadavg") or {}
    load_text = (f"; 1-minute load average {load['min']:.1f} to {load['max']:.1f} (median {load['median']:.1f})"
                 " at the starts of the no-change plans" if load else "")
    base = ""
    if env.get("baseline"):
        base = f"\n- `--baseline` build: `{env['baseline']}`"
    return f"""{RUN_BEGIN.format(n=n)}
## N = {n:,}

Measured on {res['date']}: {n} `aft_account_provisioning` + {n} `aft_customization_pipeline`
in the `{res['shape']}` shape; every no-change plan {res['repeat']} time(s), the three providers of a setting one after the other
(their order rotated each round), and the medians compared.

- Machine: {mc['nproc']} CPUs ({mc['cpu']}), {mc['memory_gb']} GB memory, Linux {mc['kernel']}{load_text}
- Terraform {env['terraform']}, moto {env['moto']}, provider binary `{env['binary']}` ({env['profile']} profile),
  zero-work binary `{env['zero_work']}`{base}

{table(res)}

The no-change plan by `terraform plan` flags (`-parallelism=10` is Terraform's default; with
`-refresh=false` no resource is read, so the provider answers only validate, upgrade and plan):

{settings_table(res)}

{breakdown(res)}

<!-- summary {json.dumps(summary(res), separators=(',', ':'))} -->
{RUN_END}
"""


def slope(summaries) -> str:
    """The runs of every N in the report, side by side."""
    if not summaries:
        return ""
    rows = [("N", "shape", "`plan` flags", "provider", "zero-work", "`terraform_data`",
             "provider / zero-work (rounds' median)", "provider / `terraform_data` (rounds' median)",
             "AWS calls / account", "provider peak RSS", "CPU: provider / Terraform", "measured")]
    for s in sorted(summaries, key=lambda s: s["accounts"]):
        for label, p in s["plans"].items():
            rows.append((f"{s['accounts']:,}", s.get("shape", "for_each"), f"`{label}`", f"{p['provider_s']:.2f} s", f"{p['zero_work_s']:.2f} s",
                         f"{p['terraform_data_s']:.2f} s", f"{p.get('vs_zero_work', p['provider_s'] / p['zero_work_s']):.2f}×",
                         f"{p.get('vs_terraform_data', p['provider_s'] / p['terraform_data_s']):.2f}×", f"{p['calls'] / s['accounts']:.3f}",
                         f"{p['rss_mb']:.1f} MB", f"{p['provider_cpu_s']:.2f} s / {p['terraform_cpu_s']:.1f} s",
                         s["date"]))
    return md_table(rows)


RUN_BEGIN = "<!-- bench run N={n}: written by make bench -->"
RUN_END = "<!-- end of bench run -->"
RUN_RE = re.compile(r"<!-- bench run N=(\d+): written by make bench -->.*?<!-- end of bench run -->\n?", re.S)
SUMMARY_RE = re.compile(r"<!-- summary (\{.*?\}) -->")


def markdown(res, previous: str) -> str:
    """The generated report: the method, the slope across the runs kept in `previous` (the old
    report) and this one, then each run's section, this run's replacing the one of the same N."""
    env = res["environment"]
    runs = {int(mt.group(1)): mt.group(0).rstrip("\n") + "\n" for mt in RUN_RE.finditer(previous)}
    runs[res["accounts"]] = section(res)
    summaries = []
    for text in runs.values():
        mt = SUMMARY_RE.search(text)
        if mt:
            try:
                summaries.append(json.loads(mt.group(1)))
            except ValueError:
                pass
    body = "\n".join(runs[k] for k in sorted(runs))
    return f"""# Benchmarks

Measured by `make bench` (N = 1,000) and `make bench-5000` (N = 5,000), both `scripts/bench.py`;
each run overwrites its own N's section below and the slope table, and keeps the other N's.

Method: a local moto server (the AWS emulator), the provider binary through Terraform's
`dev_overrides`, and a counting proxy between the provider and moto (`scripts/aws_proxy.py`),
all on one machine. The configuration has N `aft_account_provisioning` resources (method
`organizations`, spread over the OUs {', '.join(OUS)}) and one `aft_customization_pipeline` each,
in one of two shapes (`--shape`): `module`, a module instance per account (`for_each` over a
local map) holding its account and its pipeline, as AFT's own account-request repository has a
module per account; or `for_each`, two resources with `for_each`, the pipelines' over the
accounts. The floors use the same shape. In the `for_each` shape every instance's reference to
the other resource makes Terraform build that resource's whole value, so Terraform's time and
memory grow with N² (a plan of 2 × 2,000 `terraform_data` took 3.9 GB, against 0.25 GB in the
`module` shape); at N = 5,000 it does not fit this machine, so the slope is measured in the
`module` shape. Wall times are `time.monotonic()` around each
`terraform` command; the provider's peak RSS is the largest VmHWM of the provider processes that
command started, sampled every 50 ms, and CPU seconds are read from `/proc` at the same time. AWS
calls are counted by the proxy for the whole command; "per account" divides by N and includes the
pipelines' calls.

Two floors, measured in the same run, interleaved with the provider's plans, answer two
different questions:

- **The zero-work provider** (`terraform-provider-aft-zero-work`, `src/bin/`): the same plugin
  layer and the same schemas and identities as the provider, installed under the same address,
  but every RPC answers from what Terraform sent (a refresh returns the prior state, a plan the
  proposed state) without AWS. Terraform does exactly the same work with it, so **provider /
  zero-work is the provider's own cost** (its AWS reads, its checks, its code): a regression in
  the provider shows here, and nowhere else as clearly. Target: ≤ {TARGET_ZERO_WORK_RATIO}× at N = 1,000.
- **`terraform_data`** (2N instances, two per account with the same dependency): Terraform alone,
  with no plugin at all. **Zero-work / `terraform_data` is what Terraform costs per plugin
  resource instance** (gRPC round trips over mutual TLS, msgpack, `cty` work on this schema, the
  provider processes), which no provider can avoid; provider / `terraform_data` is the total a
  user sees next to Terraform's cheapest resource.

Caveat: moto runs through `scripts/moto_launcher.py`, which gives every account only the AWS
managed policies the provider uses ({env['managed_policies']}) instead of all ~1,580: stock moto
spends over a second and tens of MB per new account loading them, which would dominate the
apply and moto's memory. moto is one Python process on the same CPUs, so absolute times
include emulator time; the call counts do not depend on it. The machine may be shared: each
section gives the load average seen at the plans' starts.

## The slope: every N measured

{slope(summaries)}

{body}"""


# ---------------------------------------------------------------- main

ANALYSIS_MARKER = "<!-- written by hand below this line; make bench keeps it -->"


def existing_report(path) -> tuple[str, str]:
    """An existing report split in two: the generated part (whose other runs are kept) and the
    hand-written analysis (from ANALYSIS_MARKER on, kept whole)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return "", ""
    i = text.find(ANALYSIS_MARKER)
    return (text[:i], "\n" + text[i:]) if i >= 0 else (text, "")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=1000, help="N (default 1000)")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions of the no-change plans (default 3)")
    ap.add_argument("--provider-dir", default="target/release", help="directory of terraform-provider-aft")
    ap.add_argument("--out", default="docs/benchmarks.md", help="Markdown report (overwritten)")
    ap.add_argument("--results", default=None, help="raw results (JSON; default target/bench/results-N.json)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (it is always kept on failure)")
    ap.add_argument("--hold", action="store_true",
                    help="after the run, keep moto and the proxies running and write <work>/env.sh for manual"
                         " terraform runs against the fleet; stop with Ctrl-C")
    ap.add_argument("--skip-apply-change", action="store_true", help="skip the one-account change")
    ap.add_argument("--create-chunk", type=int, default=0, metavar="K",
                    help="create the fleet (and the floor) in states of K accounts, merged into one before the"
                         " plans (0: one apply; Terraform's state writes make one apply's time grow with N²)")
    ap.add_argument("--terraform", default=os.path.join(ROOT, ".venv/bin/terraform"))
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds per terraform command (default: 600 + 10 s per account for applies, "
                         "300 + 1 s per account for plans)")
    ap.add_argument("--baseline", default=None, metavar="DIR",
                    help="directory of another terraform-provider-aft build (the 'before' of a change): its"
                         " no-change plan and handshake are measured in the same run")
    ap.add_argument("--handshakes", type=int, default=20, help="process starts timed per variant (default 20)")
    ap.add_argument("--zero-work", default=None, metavar="FILE",
                    help="the zero-work provider (default: terraform-provider-aft-zero-work beside the provider)")
    ap.add_argument("--parallelism", default="10,50",
                    help="-parallelism of the no-change plans, comma separated; the first is the headline"
                         " (default 10,50; 10 is Terraform's default)")
    ap.add_argument("--no-refresh-false", action="store_true", help="skip the -refresh=false no-change plans")
    ap.add_argument("--no-tcp", action="store_true", help="skip the plugin transport over TCP variant")
    ap.add_argument("--shape", choices=SHAPES, default="module",
                    help="the fleet's configuration: a module instance per account (default) or two resources"
                         " with for_each (Terraform's memory grows with N² there)")
    ap.add_argument("--managed-policies", default="AdministratorAccess",
                    help="AWS managed policies moto loads per account (AFT_MOTO_MANAGED_POLICIES)")
    a = ap.parse_args()
    if a.accounts < 1 or a.repeat < 1:
        ap.error("--accounts and --repeat must be at least 1")
    a.provider_dir = os.path.realpath(a.provider_dir)
    if a.baseline:
        a.baseline = os.path.realpath(a.baseline)
        if not os.access(os.path.join(a.baseline, "terraform-provider-aft"), os.X_OK):
            ap.error(f"--baseline {a.baseline} has no terraform-provider-aft")
    a.binary = os.path.join(a.provider_dir, "terraform-provider-aft")
    a.zero_work = os.path.realpath(a.zero_work or os.path.join(a.provider_dir, "terraform-provider-aft-zero-work"))
    if not os.access(a.zero_work, os.X_OK):
        ap.error(f"{a.zero_work} is missing (build it: `cargo build --release`)")
    try:
        a.parallelism = [int(x) for x in a.parallelism.split(",") if x.strip()]
    except ValueError:
        ap.error("--parallelism takes whole numbers separated by commas")
    if not a.parallelism or min(a.parallelism) < 1:
        ap.error("--parallelism needs at least one value of 1 or more")
    if not os.access(a.binary, os.X_OK):
        ap.error(f"{a.binary} is missing (build it: `cargo build --release`)")
    if not os.access(a.terraform, os.X_OK):
        ap.error(f"{a.terraform} is missing (run `make toolchain`)")
    a.results = a.results or f"target/bench/results-{a.accounts}.json"
    a.out, a.results = (os.path.join(ROOT, p) if not os.path.isabs(p) else p for p in (a.out, a.results))
    return a


def main() -> int:
    a = parse_args()
    n = a.accounts
    t_apply = a.timeout or 600 + 10 * n
    t_plan = a.timeout or 300 + n
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)
    atexit.register(stop_children)
    bench_dir = os.path.join(ROOT, "target/bench")
    os.makedirs(bench_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="work-", dir=bench_dir)
    os.makedirs(os.path.join(work, "logs"))
    failed = True
    try:
        print(f"==> work dir {work}", flush=True)
        services = start_services(work, a.managed_policies)
        print(f"==> moto {services['moto']}, proxy {services['proxy']}, shim {services['shim']}", flush=True)
        seed = subprocess.run([PY, "scripts/seed_baseline.py", "--endpoint", services["moto"]], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        if seed.returncode != 0:
            raise BenchError(f"seed_baseline.py exited {seed.returncode}:\n{seed.stderr[-3000:]}")
        with open(os.path.join(work, "baseline.json"), "w") as f:
            f.write(seed.stdout)

        fleet, floor = os.path.join(work, "fleet"), os.path.join(work, "floor")
        for d, files in [(fleet, provider_config(n, a.shape)), (floor, floor_config(n, a.shape))]:
            write_files(d, files)
        tf = Terraform(a, work, services)
        if a.shape == "module":  # local modules are installed by `terraform get` (no provider install)
            for d in (fleet, floor):
                tf.run(f"get-{os.path.basename(d)}", d, ["get"], 300)
        stats = lambda: http(services["proxy"] + "/__proxy/stats")
        reset = lambda: http(services["proxy"] + "/__proxy/reset", {})

        m = {}
        chunked = 0 < a.create_chunk < n
        how = f" in states of {a.create_chunk} merged into one" if chunked else ""

        def create(name, d, files_of):
            """The create apply of d, in one state or in chunks (--create-chunk)."""
            if chunked:
                return chunked_apply(tf, name, d, files_of, n, a.create_chunk, a.shape, t_apply)
            return tf.run(name, d, ["apply", "-auto-approve", "-input=false"], t_apply)

        print(f"==> 1. apply: create {n} accounts + pipelines{how}", flush=True)
        reset()
        m["apply_create"] = create("apply-create", fleet, provider_config)
        s = stats()
        m["apply_create"]["aws_calls"], m["apply_create"]["by_action"] = s["total"], s["by_action"]
        m["apply_create"]["per_account_s"] = round(m["apply_create"]["wall_s"] / n, 4)
        print(f"==> 3. floor: apply{how}", flush=True)
        m["floor_apply"] = create("floor-apply", floor, floor_config)

        # the zero-work provider under the provider's address: a dev_overrides directory of its own
        # holding a copy named like the provider (a copy, so the RSS sampler sees its own path)
        zw_dir = os.path.join(work, "zero-work")
        os.makedirs(zw_dir)
        shutil.copy2(a.zero_work, os.path.join(zw_dir, "terraform-provider-aft"))
        zero = {"label": "zero-work", "dir": zw_dir, "env": {}}
        variants = [] if a.no_tcp else [{"label": "tcp", "dir": a.provider_dir, "env": {"AFT_PLUGIN_TRANSPORT": "tcp"}}]
        if a.baseline:
            variants.append({"label": "baseline", "dir": a.baseline, "env": {}})
        settings = [(f"-parallelism={p}", [f"-parallelism={p}"]) for p in a.parallelism]
        if not a.no_refresh_false:
            settings += [(f"-refresh=false -parallelism={p}", ["-refresh=false", f"-parallelism={p}"])
                         for p in a.parallelism]
        headline = settings[0][0]
        print(f"==> 2./3./6. no-change plans, {a.repeat}x each, interleaved: provider, zero-work,"
              f" terraform_data at {'; '.join(l for l, _ in settings)}"
              f" (and at {headline}: {', '.join(v['label'] for v in variants) or 'no other variant'})", flush=True)
        grid = {label: {"provider": [], "zero_work": [], "terraform_data": [], "calls": [], "zero_work_calls": []}
                for label, _ in settings}
        by_variant = {v["label"]: [] for v in variants}
        variant_calls = {v["label"]: [] for v in variants}
        plan_args = ["plan", "-input=false", "-detailed-exitcode"]
        for i in range(a.repeat):
            for label, extra in settings:
                g, slug = grid[label], re.sub(r"[^a-z0-9]+", "-", label).strip("-")

                def provider():
                    reset()
                    r = tf.run(f"plan-{slug}-{i + 1}", fleet, plan_args + extra, t_plan)
                    s = stats()
                    r["aws_calls"], r["by_action"] = s["total"], s["by_action"]
                    g["provider"].append(r)
                    g["calls"].append(s)

                def zero_work():
                    reset()
                    r = tf.run(f"zero-work-{slug}-{i + 1}", fleet, plan_args + extra, t_plan, variant=zero)
                    r["aws_calls"] = stats()["total"]
                    g["zero_work"].append(r)
                    g["zero_work_calls"].append(r["aws_calls"])

                def terraform_data():
                    g["terraform_data"].append(tf.run(f"floor-{slug}-{i + 1}", floor, plan_args + extra, t_plan))

                order = [provider, zero_work, terraform_data]
                for run in order[i % 3:] + order[:i % 3]:  # rotated each round: no one always goes first
                    run()
                if label == headline:
                    for v in variants:
                        reset()
                        r = tf.run(f"plan-{v['label']}-{i + 1}", fleet, plan_args + extra, t_plan, variant=v)
                        r["aws_calls"] = stats()["total"]
                        by_variant[v["label"]].append(r)
                        variant_calls[v["label"]].append(r["aws_calls"])
        med = lambda rs: round(statistics.median(r["wall_s"] for r in rs), 3)
        m["headline"] = headline
        m["plans"] = {}
        for label, extra in settings:
            g = grid[label]
            worst = max(g["calls"], key=lambda s: s["total"])
            e = {"args": extra,
                 "provider": {"median_s": med(g["provider"]), "runs": g["provider"]},
                 "zero_work": {"median_s": med(g["zero_work"]), "runs": g["zero_work"]},
                 "terraform_data": {"median_s": med(g["terraform_data"]), "runs": g["terraform_data"]},
                 "aws_calls": {"total": worst["total"], "per_account": round(worst["total"] / n, 3),
                               "by_action": worst["by_action"], "totals_per_run": [s["total"] for s in g["calls"]]},
                 "zero_work_aws_calls": max(g["zero_work_calls"]),
                 "rss_mb": max(r["provider_peak_rss_mb"] for r in g["provider"])}
            e["ratio_vs_zero_work"] = round(e["provider"]["median_s"] / e["zero_work"]["median_s"], 3)
            e["ratio_vs_terraform_data"] = round(e["provider"]["median_s"] / e["terraform_data"]["median_s"], 3)
            # the same ratios round by round (the plans of a round ran back to back, under the same
            # load), their median: steadier than the ratio of the medians on a shared machine
            e["ratio_vs_zero_work_paired"] = paired(g["provider"], g["zero_work"])
            e["ratio_vs_terraform_data_paired"] = paired(g["provider"], g["terraform_data"])
            m["plans"][label] = e
            if e["zero_work_aws_calls"]:  # it has no AWS code on its path: a wrong binary or address
                print(f"!!! the zero-work provider made {e['zero_work_aws_calls']} AWS calls in `{label}`", flush=True)
        h = m["plans"][headline]
        m["plan_nochange"], m["zero_work_plan_nochange"] = h["provider"], h["zero_work"]
        m["floor_plan_nochange"] = h["terraform_data"]
        m["ratio_plan_vs_zero_work"], m["ratio_plan_vs_floor"] = h["ratio_vs_zero_work"], h["ratio_vs_terraform_data"]
        m["aws_calls_nochange_plan"] = h["aws_calls"]
        m["rss_plan_mb"] = max(e["rss_mb"] for e in m["plans"].values())
        print(f"==> 6. process start to handshake line, {a.handshakes}x per variant", flush=True)
        hs_dir = tempfile.mkdtemp(prefix="hs-", dir="/tmp")  # short: a socket path must fit sun_path
        m["handshake"] = {}
        for label, binary, env in [("unix socket", a.binary, {}), *[(v["label"], os.path.join(v["dir"],
                                   "terraform-provider-aft"), v["env"]) for v in [zero, *variants]]]:
            times, network = handshake_times(binary, env, a.handshakes, hs_dir)
            m["handshake"][label] = {"median_ms": round(statistics.median(times), 2), "runs_ms": times,
                                     "network": network}
            print(f"    {label}: median {statistics.median(times):.2f} ms ({network})", flush=True)
        shutil.rmtree(hs_dir, ignore_errors=True)
        m["variants"] = {label: {"median_s": med(rs), "runs": rs, "aws_calls": max(variant_calls[label]),
                                 "paired_vs_default": paired(rs, h["provider"]["runs"])}
                         for label, rs in by_variant.items()}
        m["rss_apply_mb"] = m["apply_create"]["provider_peak_rss_mb"]

        if not a.skip_apply_change:
            key = "bench-00000"
            print(f"==> 4. one-account change ({key}'s account_tags)", flush=True)
            var = ["-var", f"changed_account={key}"]
            reset()
            cp = tf.run("change-plan", fleet, plan_args + var, t_plan, ok=(2,))
            cp["aws_calls"] = stats()["total"]
            reset()
            ca = tf.run("change-apply", fleet, ["apply", "-auto-approve", "-input=false", *var], t_apply)
            s = stats()
            ca["aws_calls"], ca["by_action"] = s["total"], s["by_action"]
            m["change"] = {"account": key, "plan": cp, "apply": ca}
            m["rss_change_plan_mb"] = cp["provider_peak_rss_mb"]
            m["rss_change_apply_mb"] = ca["provider_peak_rss_mb"]

        profile = os.path.basename(a.provider_dir) if os.path.basename(a.provider_dir) in ("debug", "release") \
            else "unknown"
        res = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "accounts": n, "shape": a.shape, "repeat": a.repeat, "machine": dict(machine(), loadavg=load_summary(m)),
            "environment": {"terraform": terraform_version(a.terraform),
                            "moto": importlib.metadata.version("moto"),
                            "binary": os.path.relpath(a.binary, ROOT), "profile": profile,
                            "binary_mtime": datetime.datetime.fromtimestamp(
                                os.path.getmtime(a.binary), datetime.timezone.utc).isoformat(),
                            "managed_policies": a.managed_policies,
                            "zero_work": os.path.relpath(a.zero_work, ROOT),
                            "baseline": os.path.relpath(a.baseline, ROOT) if a.baseline else None},
            "targets": {"plan_vs_zero_work_ratio_max": TARGET_ZERO_WORK_RATIO,
                        "aws_calls_per_account_max": TARGET_CALLS, "provider_rss_mb_max": TARGET_RSS_MB},
            "measurements": m,
        }
        os.makedirs(os.path.dirname(a.results), exist_ok=True)
        with open(a.results, "w") as f:
            json.dump(res, f, indent=2)
        generated, analysis = existing_report(a.out)
        report = markdown(res, generated) + analysis
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, "w") as f:
            f.write(report)
        print()
        print(table(res))
        print()
        print(settings_table(res))
        print()
        print(breakdown(res))
        print(f"\n==> wrote {os.path.relpath(a.out, ROOT)} and {os.path.relpath(a.results, ROOT)}")
        failed = False
        if a.hold:
            hold(tf, work, services)
        return 0
    except BenchError as e:
        print(f"\nbench: FAILED: {e}", file=sys.stderr)
        return 1
    except SystemExit as e:
        print(f"\nbench: interrupted (exit {e.code}); stopping everything it started", file=sys.stderr)
        raise
    finally:
        stop_children()
        if failed or a.keep:
            print(f"==> work dir kept: {work}", file=sys.stderr if failed else sys.stdout)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
