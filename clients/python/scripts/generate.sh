#!/usr/bin/env bash
# Regenerates the protobuf and gRPC modules of the Python client (src/bindery/v1/) from proto/.
#   clients/python/scripts/generate.sh           write them
#   clients/python/scripts/generate.sh --check   fail if the committed ones differ from proto/
# Needs grpcio-tools at the version in requirements-dev.txt (it decides the generated code).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
proto=$(cd "$here/../../proto" && pwd)
python=${PYTHON:-python3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$proto" && "$python" -m grpc_tools.protoc -I . \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" bindery/v1/*.proto)
touch "$out/bindery/v1/__init__.py"
if [ "${1:-}" = "--check" ]; then
  if ! diff -r "$out/bindery/v1" "$here/src/bindery/v1"; then
    echo "clients/python/src/bindery/v1 does not match proto/: run clients/python/scripts/generate.sh" >&2
    exit 1
  fi
  echo "clients/python: generated code matches proto/"
else
  rm -rf "$here/src/bindery/v1"
  cp -r "$out/bindery/v1" "$here/src/bindery/v1"
  echo "clients/python: regenerated src/bindery/v1 from proto/"
fi
