#!/usr/bin/env python3
"""A browser's side of Web Push, independent of hitl's Rust code: makes a
subscription's keys, decrypts a pushed message (http_ece, RFC 8291 aes128gcm) and
checks a VAPID Authorization header (PyJWT with cryptography, ES256). Reads one JSON
object on stdin, writes one on stdout; fails (exit 1) on anything invalid.

  keys                    -> {"private": d, "p256dh": point, "auth": secret} (base64url)
  decrypt {private, auth, body (base64)} -> {"plaintext": text}
  vapid {authorization, audience}        -> {"claims": {...}, "k": key}
"""

import base64
import json
import os
import sys

import http_ece
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def keys(_):
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    d = private.private_numbers().private_value.to_bytes(32, "big")
    return {"private": b64url(d), "p256dh": b64url(point), "auth": b64url(os.urandom(16))}


def decrypt(req):
    d = int.from_bytes(unb64url(req["private"]), "big")
    private = ec.derive_private_key(d, ec.SECP256R1())
    plaintext = http_ece.decrypt(
        base64.b64decode(req["body"]),
        private_key=private,
        auth_secret=unb64url(req["auth"]),
        version="aes128gcm",
    )
    return {"plaintext": plaintext.decode("utf-8")}


def vapid(req):
    header = req["authorization"]
    scheme, _, params = header.partition(" ")
    if scheme != "vapid":
        raise ValueError(f"not a vapid header: {header}")
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    point = unb64url(fields["k"])
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    claims = jwt.decode(
        fields["t"],
        public,
        algorithms=["ES256"],
        audience=req["audience"],
        options={"require": ["aud", "exp", "sub"]},
    )
    return {"claims": claims, "k": fields["k"]}


if __name__ == "__main__":
    command = sys.argv[1]
    request = json.loads(sys.stdin.read() or "{}")
    print(json.dumps({"keys": keys, "decrypt": decrypt, "vapid": vapid}[command](request)))
