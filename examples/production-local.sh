#!/usr/bin/env bash
# Runs tanya in production mode on this machine, end to end (README, "Production mode"):
# the reference member directory, a real SMTP server (Python's aiosmtpd, printing each e-mail)
# and the stand-in SMS gateway (printing each SMS), all on 127.0.0.1, then `tanya serve` in
# TANYA_MODE=production against them. Ctrl-C stops everything. Needs `pip install aiosmtpd`.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet --bin tanya --example directory --example sms_gateway
python3 -c 'import aiosmtpd' 2>/dev/null || { echo "needs aiosmtpd: pip install aiosmtpd" >&2; exit 1; }

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
target/release/examples/directory --bind 127.0.0.1:8090 --token dev-directory-token &
pids+=($!)
target/release/examples/sms_gateway --bind 127.0.0.1:8091 --token dev-sms-token &
pids+=($!)
python3 -m aiosmtpd -n -l 127.0.0.1:2525 &
pids+=($!)
sleep 1

data=$(mktemp -d)
TANYA_MODE=production \
TANYA_DATA_DIR="$data" \
TANYA_PUBLIC_URL=http://127.0.0.1:8080 \
TANYA_DIRECTORY_URL=http://127.0.0.1:8090 \
TANYA_DIRECTORY_TOKEN=dev-directory-token \
TANYA_SMTP_URL=smtp://127.0.0.1:2525 \
TANYA_SMTP_FROM=noreply@example.org \
TANYA_SMS_URL=http://127.0.0.1:8091/sms \
TANYA_SMS_TOKEN=dev-sms-token \
  target/release/tanya serve
