"""A tool that acts only on a signed hitl receipt for exactly what it is about to do.

    pip install 'PyJWT[crypto]>=2.8,<3' 'rfc8785>=0.1.4,<0.2'
    python3 guarded_tool.py RECEIPT --jwks http://127.0.0.1:8080/.well-known/jwks.json \\
        --action 'Deploy v2.4.1 to production' --context '{"environment": "prod"}'

The agent passes the receipt it got with the approval (`receipt` in the pause object,
the webhook, the MCP tool result or `hitl ask --json`) to the tool, along with the
arguments. The tool trusts neither the agent nor the network between them: it checks
with a standard JOSE library (PyJWT) that hitl's key signed the receipt, that the
receipt approves, and that the action and the context it is about to use are the ones
the reviewer approved (by their SHA-256 digests; the context in RFC 8785 canonical
form, so key order and number spelling do not matter). Only then does it act.

Exit codes: 0 verified and acted, 1 refused (the reason on one line), 2 bad usage.
"""

import argparse
import hashlib
import json
import sys

import jwt
import rfc8785

WELL_KNOWN = "/.well-known/jwks.json"


class Refused(Exception):
    """The receipt does not allow this action."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def context_sha256(context_json):
    """The digest of a context (JSON text, or None for none) in RFC 8785 form."""
    if context_json is None:
        value = None
    else:
        # RFC 8785 reads every JSON number as an IEEE 754 double, integers too.
        value = json.loads(context_json, parse_int=float)
    try:
        return sha256_hex(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, ValueError) as e:
        raise Refused(f"the context has no canonical form: {e}") from e


def verify(receipt, jwks_url, action, context_json):
    """The receipt's claims, once it is shown to approve exactly this action and context."""
    try:
        signing_key = jwt.PyJWKClient(jwks_url, cache_keys=True).get_signing_key_from_jwt(receipt)
    except jwt.PyJWKClientError as e:
        raise Refused(f"no key of {jwks_url} signed this receipt: {e}") from e
    except jwt.DecodeError as e:
        raise Refused(f"not a receipt: {e}") from e
    # The issuer is the server whose JWKS this is: its public URL.
    issuer = jwks_url[: -len(WELL_KNOWN)] if jwks_url.endswith(WELL_KNOWN) else None
    try:
        claims = jwt.decode(
            receipt,
            signing_key.key,
            algorithms=["EdDSA"],
            issuer=issuer,
            options={"require": ["iss"]},
        )
    except jwt.InvalidTokenError as e:
        raise Refused(f"the receipt does not verify: {e}") from e
    if claims.get("status") != "approved":
        raise Refused(f"the receipt records {claims.get('status')}, not an approval")
    if claims.get("actionSha256") != sha256_hex(action.encode("utf-8")):
        raise Refused("the action is not the one that was approved")
    if claims.get("contextSha256") != context_sha256(context_json):
        raise Refused("the context is not the one that was approved")
    return claims


def act(action, context_json):
    """The tool's real work; here it only says what it does."""
    print(f"acting: {action}", flush=True)
    if context_json is not None:
        print(f"with context: {json.dumps(json.loads(context_json), sort_keys=True)}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("receipt", help="the receipt (compact JWS), or - to read it from standard input")
    parser.add_argument("--jwks", required=True, help="hitl's JWKS URL, e.g. http://127.0.0.1:8080/.well-known/jwks.json")
    parser.add_argument("--action", required=True, help="the action about to be taken")
    parser.add_argument("--context", help="the context about to be used, as JSON (none: the pause had none)")
    args = parser.parse_args()
    receipt = sys.stdin.read().strip() if args.receipt == "-" else args.receipt.strip()
    if args.context is not None:
        try:
            json.loads(args.context)
        except ValueError as e:
            parser.error(f"--context is not valid JSON: {e}")
    try:
        claims = verify(receipt, args.jwks, args.action, args.context)
    except Refused as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    print(f"verified: {claims['watchId']} approved by {claims['resolvedBy']} at {claims['resolvedAt']}", flush=True)
    act(args.action, args.context)
    return 0


if __name__ == "__main__":
    sys.exit(main())
