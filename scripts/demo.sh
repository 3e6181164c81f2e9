#!/usr/bin/env bash
# make demo: moto on loopback, an AFT management baseline, then `terraform apply` of
# examples/quickstart with the freshly built provider. Everything stops when the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
WORK=$ROOT/.tmp/demo
MAKE=${MAKE:-make}
rm -rf "$WORK"
mkdir -p "$WORK"

# The build is the long part on a fresh clone: it runs from the start, beside the toolchain's
# install, the emulator's start and the seeding, and is waited for just before Terraform.
# (`make demo BUILD_FLAGS=--timings` reaches this make through MAKEFLAGS.)
"$MAKE" --no-print-directory build &
BUILD_PID=$!
# At exit, whatever is still running is stopped by its pid. The build's pid is forgotten once
# `wait` has reaped it: from then on the number may be another process's.
stop_all() { for pid in ${BUILD_PID:-} ${MOTO_PID:-} ${SHIM_PID:-}; do kill "$pid" 2>/dev/null || true; done; }
trap stop_all EXIT
"$MAKE" --no-print-directory toolchain

PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# moto with only the AWS managed policy the provider attaches (see scripts/moto_launcher.py)
"$VENV/bin/python" scripts/moto_launcher.py -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
ENDPOINT=http://127.0.0.1:$PORT
for _ in $(seq 1 200); do
  "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('$ENDPOINT/moto-api/')" 2>/dev/null && break
  sleep 0.1
done
# Step Functions really run the state machines (moto's "parser" backend)
"$VENV/bin/python" - "$ENDPOINT" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/moto-api/config", data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
                             headers={"Content-Type": "application/json"}, method="POST")
urllib.request.urlopen(req)
PY
echo "==> moto listening on $ENDPOINT (pid $MOTO_PID)"
# moto writes CodePipeline timestamps as ISO strings; the shim turns them into AWS's epoch numbers
SHIM_PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$VENV/bin/python" scripts/codepipeline_shim.py "$SHIM_PORT" "$ENDPOINT" >"$WORK/shim.log" 2>&1 &
SHIM_PID=$!

"$VENV/bin/python" scripts/seed_baseline.py --endpoint "$ENDPOINT" >"$WORK/baseline.json"
AFT=$("$VENV/bin/python" -c "import json; print(json.load(open('$WORK/baseline.json'))['aft_management'])")
echo "==> seeded an AFT management baseline (AFT management $AFT, see $WORK/baseline.json)"

built=0
wait "$BUILD_PID" || built=$?
BUILD_PID=
if [ "$built" != 0 ]; then
  echo "make demo: the build failed (its output is above)" >&2
  exit 1
fi
echo "==> provider built"
cp -r examples/quickstart "$WORK/quickstart"
cat >"$WORK/dev.tfrc" <<TFRC
provider_installation {
  dev_overrides {
    "aft-rs/aft" = "$ROOT/target/debug"
  }
  direct {}
}
TFRC
export TF_CLI_CONFIG_FILE=$WORK/dev.tfrc CHECKPOINT_DISABLE=1 RUST_BACKTRACE=0
export AWS_ENDPOINT_URL_CODEPIPELINE=http://127.0.0.1:$SHIM_PORT
export AWS_ENDPOINT_URL=$ENDPOINT AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_CONFIG_FILE=$WORK/aws-config AWS_SHARED_CREDENTIALS_FILE=$WORK/aws-credentials AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN

echo "==> terraform plan"
"$VENV/bin/terraform" -chdir="$WORK/quickstart" plan -input=false -var "aft_admin_role_arn=arn:aws:iam::$AFT:role/AWSAFTAdmin"
echo "==> terraform apply"
"$VENV/bin/terraform" -chdir="$WORK/quickstart" apply -auto-approve -input=false -var "aft_admin_role_arn=arn:aws:iam::$AFT:role/AWSAFTAdmin"
"$VENV/bin/python" scripts/show_demo.py "$ENDPOINT" "$WORK/baseline.json" "$WORK/quickstart"
echo
echo "==> a second plan changes nothing:"
"$VENV/bin/terraform" -chdir="$WORK/quickstart" plan -input=false -detailed-exitcode -var "aft_admin_role_arn=arn:aws:iam::$AFT:role/AWSAFTAdmin" >/dev/null && echo "    No changes."
