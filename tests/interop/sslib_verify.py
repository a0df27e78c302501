#!/usr/bin/env python3
"""An independent verifier of a pp proof bundle, written only against securesystemslib and
Python's cryptography (no pp code): the DSSE envelope must verify with the given Ed25519 public
key under the keyid securesystemslib computes for it, the payload must be an in-toto Statement
v1, and every bundle file must match its subject's sha256 (DSSE signs the payload only, so the
files are this script's own check), with no file left out.

Usage: sslib_verify.py BUNDLE PUBLIC_KEY_PEM
Prints one JSON line; exit 0 when the bundle verifies, 1 when it does not, 3 when
securesystemslib or cryptography cannot be imported.
"""

import hashlib
import json
import os
import sys

try:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey
except ImportError as e:  # the caller reports the test as skipped
    print(json.dumps({"ok": False, "skipped": str(e)}))
    sys.exit(3)


def fail(reason, **extra):
    print(json.dumps({"ok": False, "reason": reason, **extra}))
    sys.exit(1)


def main(bundle, public_pem):
    with open(public_pem, "rb") as f:
        key = SSlibKey.from_crypto(load_pem_public_key(f.read()))
    with open(os.path.join(bundle, "attestation.json"), "rb") as f:
        envelope = Envelope.from_dict(json.load(f))
    if envelope.payload_type != "application/vnd.in-toto+json":
        fail("payloadType is " + envelope.payload_type)
    try:
        # Signatures whose keyid is not key.keyid are skipped: the keyid must be the one
        # securesystemslib computes.
        envelope.verify([key], 1)
    except Exception as e:  # VerificationError, or a malformed signature
        fail("DSSE signature: %s: %s" % (type(e).__name__, e), keyid=key.keyid)

    statement = json.loads(envelope.payload)
    if statement.get("_type") != "https://in-toto.io/Statement/v1":
        fail("not an in-toto Statement v1: %r" % statement.get("_type"))
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    on_disk = set()
    for root, _dirs, files in os.walk(bundle):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), bundle).replace(os.sep, "/")
            if rel != "attestation.json":
                on_disk.add(rel)
    if on_disk != set(subjects):
        fail("files and subjects differ",
             missing=sorted(set(subjects) - on_disk), extra=sorted(on_disk - set(subjects)))
    for name, want in sorted(subjects.items()):
        with open(os.path.join(bundle, name), "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        if got != want:
            fail("subject digest mismatch: " + name, sha256=got, attested=want)
    print(json.dumps({"ok": True, "keyid": key.keyid, "subjects": len(subjects)}))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2])
