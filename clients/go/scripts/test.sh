#!/usr/bin/env bash
# Builds and tests the Go client offline, with the Go toolchain and gRPC/protobuf packages from
# Debian (golang-go, golang-google-grpc-dev, golang-google-protobuf-dev; no module downloads):
# GOPATH mode over /usr/share/gocode. Checks the generated stubs against proto/ (protoc,
# protoc-gen-go, protoc-gen-go-grpc), vets, and runs the tests, whose integration test starts
# `bindery dev` from $BINDERY_BIN (default: the workspace's target/debug/bindery).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/../.." && pwd)
gopath=$root/target/gopath
link=$gopath/src/github.com/bindery-dev/bindery
mkdir -p "$(dirname "$link")"
ln -sfn "$root" "$link"
export GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOFLAGS= GOPROXY=off GOCACHE=${GOCACHE:-$root/target/gocache}
export BINDERY_BIN=${BINDERY_BIN:-$root/target/debug/bindery}

"$here/scripts/generate.sh" --check
cd "$link/clients/go"
test -z "$(gofmt -l bindery examples)" || { gofmt -l bindery examples; echo "clients/go: run gofmt -w" >&2; exit 1; }
go vet ./...
go build -o "$root/target/go-sidecar" ./examples/sidecar
BINDERY_GO_SIDECAR=$root/target/go-sidecar go test -count=1 "$@" ./...
