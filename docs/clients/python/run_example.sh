#!/usr/bin/env bash
# A Python gRPC client of provindex, generated from proto/ with grpcio-tools.
#   docs/clients/python/run_example.sh [HOST:PORT] [TEXT_FILE]
# Creates a venv in .venv (next to this script), installs grpcio and
# grpcio-tools, generates stubs into gen/ and runs example.py against a
# running `provindex serve` (default 127.0.0.1:50051).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
server="${1:-127.0.0.1:50051}"
text_file="${2:-}"

if [ ! -x "$here/.venv/bin/python" ]; then
  python3 -m venv "$here/.venv"
fi
"$here/.venv/bin/pip" install --quiet --upgrade grpcio grpcio-tools

rm -rf "$here/gen" && mkdir -p "$here/gen"
"$here/.venv/bin/python" -m grpc_tools.protoc \
  -I "$root/proto" \
  --python_out="$here/gen" --grpc_python_out="$here/gen" \
  "$root"/proto/provindex/v1/*.proto

PYTHONPATH="$here/gen" exec "$here/.venv/bin/python" "$here/example.py" "$server" ${text_file:+"$text_file"}
