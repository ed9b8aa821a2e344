"""A training job's last step: register the model directory it produced, with its metrics,
parameters and lineage, and ask for it to be bound to `staging`.

    BINDERY_ADDRESS=127.0.0.1:50051 python train.py fraud/detector ./out --run-id run-1842

The run id is the registration's request id: if the job is retried after a crash, it gets the
version it already registered instead of a duplicate.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import bindery


def code_ref() -> str:
    """The commit the job ran from, when it ran from a git checkout."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        return f"git@{sha}"
    except (OSError, subprocess.CalledProcessError):
        return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("directory")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--bind", default="staging", help="binding to point at the new version ('' for none)")
    args = parser.parse_args()

    metrics_file = os.path.join(args.directory, "metrics.json")
    metrics = json.load(open(metrics_file)) if os.path.exists(metrics_file) else {}

    with bindery.Client() as client:
        try:
            client.create_model(args.model, owner=os.environ.get("USER", ""))
        except bindery.AlreadyExists:
            pass
        registered = client.register_version(
            args.model,
            args.directory,
            request_id=args.run_id,
            metrics=metrics,
            params={"python": sys.version.split()[0]},
            lineage={"training_run_id": args.run_id, "code_ref": code_ref()},
        )
        v = registered.version
        state = "registered" if registered.created else "already registered"
        print(f"{state} {v.model_name} v{v.version} at {v.artifact.uri} ({len(v.artifact.files)} files)")
        if args.bind:
            bound = client.set_binding(args.model, args.bind, v.version, reason=f"trained by {args.run_id}")
            print(f"{args.model}@{args.bind} -> v{v.version} (generation {bound.binding.generation}, revision {bound.revision})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
