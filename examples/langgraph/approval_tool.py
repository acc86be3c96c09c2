"""A LangGraph tool that asks a human through hitl before it acts.

    pip install 'langgraph>=1,<2' 'requests>=2,<3'
    export HITL_URL=http://127.0.0.1:8080   # the default
    export HITL_API_KEY=hitl_...            # an agent key: hitl key create --name langgraph-bot
    python3 approval_tool.py

`@require_approval` wraps any function: each call becomes a hitl pause whose action
names the call and whose context holds its arguments, and the function runs only when
a reviewer approves. A rejection (with the reviewer's comment), an expiry or a hitl
error is returned to the model as the tool's result instead, so the agent can change
course; nothing runs without an approval.

The graph below needs no LLM: its "agent" node stands in for a model and asks for one
tool call, and LangGraph's prebuilt ToolNode runs it. In a real agent, put your chat
model there (model.bind_tools([deploy])) and keep the rest. The tool blocks while it
waits (long-polling, one request a minute); for approvals that take hours, let the
graph stop with langgraph.types.interrupt() and resume it from hitl's webhook instead.
Exit code: 0 when the tool ran, 1 when it did not.
"""

import functools
import os
import sys
import uuid

import requests
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

HITL_URL = os.environ.get("HITL_URL", "http://127.0.0.1:8080").rstrip("/")
WAIT_SECONDS = 60  # the longest long-poll hitl holds


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


def ask_hitl(action, context, tags=(), timeout_seconds=3600):
    """Creates a pause and long-polls until it is decided; returns the final pause."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {os.environ['HITL_API_KEY']}"
        pause = _call(
            session,
            "POST",
            "/api/pause",
            json={"action": action, "context": context, "tags": list(tags), "timeoutSeconds": timeout_seconds},
            # Sending the same request again (a retry) returns the same pause.
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        print(f"waiting for a decision: {pause['reviewUrl']}", file=sys.stderr, flush=True)
        while pause["status"] == "pending":
            pause = _call(session, "GET", f"/api/pause/{pause['watchId']}", params={"wait": WAIT_SECONDS})
        return pause


def require_approval(fn=None, *, tags=("langgraph",), timeout_seconds=3600):
    """Decorator: run `fn` only after a reviewer approves this very call in hitl."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            call = {"args": list(args), "kwargs": kwargs}
            shown = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
            try:
                pause = ask_hitl(f"{fn.__name__}({shown})"[:2000], {"tool": fn.__name__, **call}, tags, timeout_seconds)
            except (requests.RequestException, RuntimeError, KeyError) as e:
                return f"Not run: could not get an approval ({e})"  # fail closed
            if pause["status"] == "approved":
                return fn(*args, **kwargs)
            comment = pause["comment"] or "no comment"
            return f"Not run: {pause['status']} by {pause['resolvedBy']}: {comment}"

        return wrapper

    return decorate(fn) if fn is not None else decorate


@tool
@require_approval(tags=("langgraph", "deploy"))
def deploy(version: str, environment: str) -> str:
    """Deploy a version of the service to an environment."""
    print(f"deploying {version} to {environment}", flush=True)
    return f"Deployed {version} to {environment}."


def agent(state: MessagesState):
    """Stands in for an LLM: asks for one deploy tool call."""
    call = {"name": "deploy", "args": {"version": "v2.4.1", "environment": "production"}, "id": "call_1"}
    return {"messages": [AIMessage(content="", tool_calls=[call])]}


def build_graph():
    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([deploy]))
    graph.add_edge(START, "agent")
    graph.add_edge("agent", "tools")
    graph.add_edge("tools", END)
    return graph.compile()


def main():
    if not os.environ.get("HITL_API_KEY"):
        print("set HITL_API_KEY to an agent key (hitl key create --name langgraph-bot)", file=sys.stderr)
        return 1
    result = build_graph().invoke({"messages": [HumanMessage("Ship v2.4.1 to production")]})
    outcome = result["messages"][-1].content  # the ToolMessage the model would read next
    print(f"tool result: {outcome}")
    return 0 if outcome.startswith("Deployed") else 1


if __name__ == "__main__":
    sys.exit(main())
