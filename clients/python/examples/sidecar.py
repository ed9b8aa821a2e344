"""A serving sidecar: keep the model bound to `model@binding` on local disk, swapping it in when
the binding moves.

    BINDERY_READERS=reader-a:50052,reader-b:50052 python sidecar.py fraud/detector@production /models

Each version lands in `<dir>/v<N>/` (checked against the registry's SHA-256) and `<dir>/current`
is a symlink switched atomically to it; the server reading `current` reloads when it changes.
`--once` downloads the current version and exits (an init container).
"""

from __future__ import annotations

import argparse
import os
import sys

import bindery


def install(client: bindery.Client, ref: str, root: str, version: int, revision: int) -> None:
    target = os.path.join(root, f"v{version}")
    if not os.path.isdir(target):
        client.download(ref, to=target, min_revision=revision)
    link = os.path.join(root, "current")
    tmp = link + ".new"
    if os.path.lexists(tmp):
        os.remove(tmp)
    os.symlink(f"v{version}", tmp)
    os.replace(tmp, link)  # atomic: readers see the old or the new version, never neither
    print(f"{ref}: serving v{version} from {target}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ref", help="model@binding")
    parser.add_argument("dir")
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args()
    model, binding = bindery.parse_ref(args.ref)
    os.makedirs(args.dir, exist_ok=True)

    with bindery.Client() as client:
        if args.once:
            answer = client.resolve(model, binding)
            install(client, args.ref, args.dir, answer.version, answer.revision)
            return 0
        serving = None
        for update in client.watch([model], [binding]):
            current = next(
                (b for b in update.bindings if b.model_name == model and b.binding == binding), None
            )
            if current is None or current.deleted or current.version == serving:
                continue
            install(client, args.ref, args.dir, current.version, update.revision)
            serving = current.version
    return 0


if __name__ == "__main__":
    sys.exit(main())
