"""The OpenAI Agents SDK's tool approvals, decided by a person through hitl.

    pip install 'openai-agents>=0.24,<0.25' 'requests>=2,<3'
    export HITL_URL=http://127.0.0.1:8080   # the default
    export HITL_API_KEY=hitl_...            # an agent key: hitl key create --name agents-bot
    export OPENAI_API_KEY=sk-...            # for the model
    python3 approval_loop.py
    python3 approval_loop.py --scripted-model   # no model, no OpenAI key: see scripted_model.py

A tool declared with `needs_approval=True` never runs straight away: the run stops and
`result.interruptions` lists the calls waiting for approval. This loop turns each one
into a hitl pause, waits for the reviewer, records the decision on the run's state
(`state.approve(item)` or `state.reject(item, rejection_message=...)`, which the model
reads) and resumes the run from that state. Exit code: 0 when the tool ran, 1 when it
did not.
"""

import asyncio
import json
import os
import sys
import uuid

import requests
from agents import Agent, Runner, function_tool, set_tracing_disabled

HITL_URL = os.environ.get("HITL_URL", "http://127.0.0.1:8080").rstrip("/")
WAIT_SECONDS = 60  # the longest long-poll hitl holds
ran = []  # the tool calls that actually ran


@function_tool(needs_approval=True)
def deploy(version: str, environment: str) -> str:
    """Deploy a version of the service to an environment."""
    print(f"deploying {version} to {environment}", flush=True)
    ran.append(version)
    return f"Deployed {version} to {environment}."


def _call(session, method, path, **kwargs):
    """One hitl API call; raises RuntimeError with hitl's JSON error on failure."""
    response = session.request(method, HITL_URL + path, timeout=WAIT_SECONDS + 15, **kwargs)
    if not response.ok:
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            error = {"code": "http_error", "message": response.text[:200]}
        raise RuntimeError(f"hitl: {response.status_code} {error.get('code')}: {error.get('message')}")
    return response.json()


def ask_hitl(action, context, tags=("openai-agents",), timeout_seconds=3600):
    """Creates a pause and long-polls until it is decided; returns the final pause."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {os.environ['HITL_API_KEY']}"
        pause = _call(
            session,
            "POST",
            "/api/pause",
            json={"action": action, "context": context, "tags": list(tags), "timeoutSeconds": timeout_seconds},
            headers={"Idempotency-Key": str(uuid.uuid4())},  # a retried create is the same pause
        )
        print(f"waiting for a decision: {pause['reviewUrl']}", file=sys.stderr, flush=True)
        while pause["status"] == "pending":
            pause = _call(session, "GET", f"/api/pause/{pause['watchId']}", params={"wait": WAIT_SECONDS})
        return pause


async def decide(item, agent_name):
    """Asks hitl about one interruption (a ToolApprovalItem); returns (approved, message)."""
    try:
        arguments = json.loads(item.arguments or "{}")
    except ValueError:
        arguments = item.arguments
    try:
        # requests blocks: run the wait in a thread so the event loop stays free.
        pause = await asyncio.to_thread(
            ask_hitl,
            f"{item.tool_name}({item.arguments})"[:2000],
            {"agent": agent_name, "tool": item.tool_name, "arguments": arguments, "callId": item.call_id},
        )
    except (requests.RequestException, RuntimeError) as e:
        return False, f"Not run: could not get an approval ({e})"  # fail closed
    if pause["status"] == "approved":
        return True, None
    return False, f"Not run: {pause['status']} by {pause['resolvedBy']}: {pause['comment'] or 'no comment'}"


async def main():
    if not os.environ.get("HITL_API_KEY"):
        print("set HITL_API_KEY to an agent key (hitl key create --name agents-bot)", file=sys.stderr)
        return 1
    model = None  # the SDK's default OpenAI model
    if "--scripted-model" in sys.argv:
        from scripted_model import ScriptedModel

        model = ScriptedModel()
        set_tracing_disabled(True)  # nothing is sent to OpenAI

    agent = Agent(
        name="Release manager",
        instructions="Deploy what the user asks for with the deploy tool, then say what happened.",
        tools=[deploy],
        **({"model": model} if model else {}),
    )
    result = await Runner.run(agent, "Ship v2.4.1 to production.")
    # The approval loop: while the run stops for approvals, ask hitl about each call.
    while result.interruptions:
        state = result.to_state()
        for item in result.interruptions:
            approved, message = await decide(item, agent.name)
            if approved:
                state.approve(item)
            else:
                print(message, flush=True)
                state.reject(item, rejection_message=message)  # the model reads why
        result = await Runner.run(agent, state)

    print(f"final output: {result.final_output}")
    return 0 if ran else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
