"""Ask a human through hitl before a risky action, with plain `requests`.

    pip install 'requests>=2,<3'
    export HITL_URL=http://127.0.0.1:8080   # the default
    export HITL_API_KEY=hitl_...            # an agent key: hitl key create --name deploy-bot
    python3 approve_deploy.py

It creates a pause, prints the review URL, waits for the decision with long-polling
and deploys only when a reviewer approves. Exit codes follow `hitl ask`: 0 approved
(and deployed), 1 rejected, 2 expired or cancelled, 3 error.
"""

import os
import sys
import uuid

import requests

HITL_URL = os.environ.get("HITL_URL", "http://127.0.0.1:8080").rstrip("/")
HITL_API_KEY = os.environ.get("HITL_API_KEY", "")

# The server holds a long-poll for at most 60 s; the client waits a little longer.
WAIT_SECONDS = 60


class HitlError(Exception):
    """An error answer from hitl: {"error": {"code", "message", "requestId"}}."""

    def __init__(self, status, code, message, request_id=None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.request_id = status, code, message, request_id


def call(session, method, path, **kwargs):
    """One API call; returns the JSON body or raises HitlError with hitl's own reason."""
    response = session.request(method, HITL_URL + path, timeout=WAIT_SECONDS + 15, **kwargs)
    if response.ok:
        return response.json()
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        error = {"code": "http_error", "message": response.text[:200]}
    raise HitlError(response.status_code, error.get("code"), error.get("message"), error.get("requestId"))


def ask_approval(session, action, context, timeout_seconds=3600, tags=()):
    """Creates a pause and waits until it is decided; returns the final pause object."""
    # One Idempotency-Key per logical request: if the create is retried (say, after a
    # timeout whose answer was lost), hitl returns the first pause instead of a second.
    idempotency_key = str(uuid.uuid4())
    body = {"action": action, "context": context, "timeoutSeconds": timeout_seconds, "tags": list(tags)}
    for attempt in range(3):
        try:
            pause = call(session, "POST", "/api/pause", json=body, headers={"Idempotency-Key": idempotency_key})
            break
        except requests.ConnectionError:
            if attempt == 2:
                raise
    print(f"waiting for a decision: {pause['reviewUrl']}", file=sys.stderr, flush=True)

    watch_id = pause["watchId"]
    try:
        # Long-poll: each GET returns the moment the pause is decided, or after
        # WAIT_SECONDS with the status still "pending"; then ask again.
        while pause["status"] == "pending":
            pause = call(session, "GET", f"/api/pause/{watch_id}", params={"wait": WAIT_SECONDS})
    except KeyboardInterrupt:
        # Withdraw the request so that nobody approves what nobody waits for.
        call(session, "POST", f"/api/pause/{watch_id}/cancel", json={"reason": "the agent was stopped"})
        raise
    return pause


def deploy(version):
    """The risky action itself; here it only says what it would do."""
    print(f"deploying {version} to production")


def main():
    if not HITL_API_KEY:
        print("set HITL_API_KEY to an agent key (hitl key create --name deploy-bot)", file=sys.stderr)
        return 3
    version = os.environ.get("DEPLOY_VERSION", "v2.4.1")
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {HITL_API_KEY}"
        try:
            pause = ask_approval(
                session,
                action=f"Deploy {version} to production",
                context={"environment": "prod", "version": version, "commit": "a3f9b2e"},
                tags=["deploy", "prod"],
            )
        except HitlError as e:
            print(f"hitl refused the request: {e} (request id {e.request_id})", file=sys.stderr)
            return 3
        except requests.RequestException as e:
            print(f"cannot reach hitl at {HITL_URL}: {e}", file=sys.stderr)
            return 3
        except KeyboardInterrupt:
            print("stopped; the request was cancelled", file=sys.stderr)
            return 2

    status, by, comment = pause["status"], pause["resolvedBy"], pause["comment"] or ""
    if status == "approved":
        print(f"approved by {by}: {comment}")
        deploy(version)  # act only on an explicit approval
        return 0
    if status == "rejected":
        print(f"rejected by {by}: {comment}")
        return 1
    if status in ("expired", "cancelled"):
        print(f"{status} ({by}): {comment}")
        return 2
    print(f"unexpected status {status!r}", file=sys.stderr)  # never treat it as approval
    return 3


if __name__ == "__main__":
    sys.exit(main())
