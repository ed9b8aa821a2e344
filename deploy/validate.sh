#!/usr/bin/env bash
# Validates deploy/: the Kubernetes manifests (base and the example overlay, rendered with
# kustomize) against the Kubernetes OpenAPI schemas with kubernetes-validate (offline, strict:
# unknown fields are errors), the compose file with `docker compose config` when available, and
# the config files in the manifests with `bindery config print`.
set -euo pipefail
cd "$(dirname "$0")/.."
k8s_version=${K8S_VERSION:-1.31.0}

if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
  echo "deploy/validate.sh: installing kubernetes-validate (PyPI)"
  python3 -m pip install -q --disable-pip-version-check kubernetes-validate
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

render() { # dir file
  if command -v kubectl >/dev/null; then
    kubectl kustomize "$1" >"$2"
  elif command -v kustomize >/dev/null; then
    kustomize build "$1" >"$2"
  else
    return 1
  fi
}
if render deploy/kubernetes/base "$out/base.yaml" && render deploy/kubernetes/overlays/example "$out/example.yaml"; then
  files=("$out/base.yaml" "$out/example.yaml")
  echo "deploy/validate.sh: rendered base and overlays/example with kustomize"
else
  echo "deploy/validate.sh: no kubectl/kustomize here; validating the base resources as written"
  files=($(ls deploy/kubernetes/base/*.yaml | grep -v kustomization.yaml))
fi
python3 -m kubernetes_validate --strict -k "$k8s_version" "${files[@]}" deploy/kubernetes/secrets.example.yaml \
  deploy/kubernetes/examples/*.yaml

# The TOML embedded in the ConfigMaps must be valid for every role it configures.
bin=${BINDERY_BIN:-target/debug/bindery}
if [ -x "$bin" ]; then
  for f in "${files[@]}"; do
    python3 - "$f" "$out/bindery.toml" <<'PY'
import sys, re
text = open(sys.argv[1]).read()
m = re.search(r"bindery\.toml: \|\n((?:    .*\n|\n)+)", text)
open(sys.argv[2], "w").write("\n".join(l[4:] for l in m.group(1).splitlines()) + "\n")
PY
    for role in primary reader migrate; do
      BINDERY_DATABASE_URL=postgres://x@db/bindery "$bin" --config "$out/bindery.toml" config print "$role" >/dev/null
    done
  done
  echo "deploy/validate.sh: the embedded bindery.toml is valid for primary, reader and migrate"
fi

# The InferenceServices `bindery export kserve` wrote during scripts/test.sh (tests/it/deployment.rs),
# against KServe's schema: the generated models of its Python SDK (pinned), loaded offline.
if [ -d target/kserve-export ]; then
  py=target/kserve-py
  if ! PYTHONPATH=$py python3 -c 'import kserve, kubernetes, yaml, six, urllib3' 2>/dev/null; then
    echo "deploy/validate.sh: installing the KServe 0.14.1 and Kubernetes 31.0.0 models (PyPI) into $py"
    python3 -m pip install -q --disable-pip-version-check --no-deps --target "$py" \
      kserve==0.14.1 kubernetes==31.0.0 six urllib3 PyYAML
  fi
  manifests=(target/kserve-export/*.yaml)
  PYTHONPATH=$py python3 deploy/kserve/validate.py "${manifests[@]}"
elif [ -x "$bin" ]; then
  echo "deploy/validate.sh: no target/kserve-export: run scripts/test.sh first (it writes the exported manifests)" >&2
  exit 1
fi

if docker compose version >/dev/null 2>&1; then
  docker compose -f deploy/docker-compose.yml config -q
  echo "deploy/validate.sh: docker-compose.yml is valid"
else
  echo "deploy/validate.sh: no docker compose here; skipped the compose file"
fi
echo "deploy/validate.sh: ok"
