#!/usr/bin/env bash
# Regenerates the Go stubs (binderyv1/) from proto/ with protoc, protoc-gen-go and
# protoc-gen-go-grpc (Debian: protobuf-compiler, protoc-gen-go, protoc-gen-go-grpc).
#   clients/go/scripts/generate.sh           write them
#   clients/go/scripts/generate.sh --check   fail if the committed ones differ from proto/
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
proto=$(cd "$here/../../proto" && pwd)
pkg=github.com/bindery-dev/bindery/clients/go/binderyv1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
maps=()
for f in "$proto"/bindery/v1/*.proto; do
  maps+=("M${f#"$proto"/}=$pkg;binderyv1")
done
go_opts=$(IFS=,; echo "${maps[*]}")
(cd "$proto" && protoc -I . -I /usr/include \
  --go_out="$out" --go_opt=paths=source_relative,"$go_opts" \
  --go-grpc_out="$out" --go-grpc_opt=paths=source_relative,"$go_opts" \
  bindery/v1/*.proto)
if [ "${1:-}" = "--check" ]; then
  if ! diff -r "$out/bindery/v1" "$here/binderyv1"; then
    echo "clients/go/binderyv1 does not match proto/: run clients/go/scripts/generate.sh" >&2
    exit 1
  fi
  echo "clients/go: generated code matches proto/"
else
  rm -rf "$here/binderyv1"
  cp -r "$out/bindery/v1" "$here/binderyv1"
  echo "clients/go: regenerated binderyv1 from proto/"
fi
