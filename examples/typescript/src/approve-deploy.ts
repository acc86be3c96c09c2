// Ask a human through hitl before a risky action, with fetch (Node.js 18+).
//
//   npm ci && npx tsc
//   export HITL_URL=http://127.0.0.1:8080   # the default
//   export HITL_API_KEY=hitl_...            # an agent key: hitl key create --name deploy-bot
//   node dist/approve-deploy.js
//
// It creates a pause, prints the review URL, waits for the decision with long-polling
// and deploys only when a reviewer approves. Exit codes follow `hitl ask`: 0 approved
// (and deployed), 1 rejected, 2 expired or cancelled, 3 error.

import { randomUUID } from "node:crypto";

const HITL_URL = (process.env.HITL_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
const HITL_API_KEY = process.env.HITL_API_KEY ?? "";

// The server holds a long-poll for at most 60 s; the client waits a little longer.
const WAIT_SECONDS = 60;

type Status = "pending" | "approved" | "rejected" | "answered" | "expired" | "cancelled";

/** The pause object of GET /api/pause/:watchId (the fields used here). */
interface Pause {
  watchId: string;
  status: Status;
  action: string;
  resolvedBy: string | null;
  comment: string | null;
  reviewUrl: string;
}

/** An error answer from hitl: {"error": {"code", "message", "requestId"}}. */
class HitlError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
  ) {
    super(`${status} ${code}: ${message}`);
  }
}

/** One API call; returns the JSON body or throws HitlError with hitl's own reason. */
async function call<T>(method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<T> {
  const response = await fetch(HITL_URL + path, {
    method,
    headers: {
      Authorization: `Bearer ${HITL_API_KEY}`,
      ...(init.body === undefined ? {} : { "Content-Type": "application/json" }),
      ...init.headers,
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout((WAIT_SECONDS + 15) * 1000),
  });
  const text = await response.text();
  if (response.ok) {
    return JSON.parse(text) as T;
  }
  let error: { code?: string; message?: string; requestId?: string } = {};
  try {
    error = JSON.parse(text).error ?? {};
  } catch {
    error = { message: text.slice(0, 200) };
  }
  throw new HitlError(response.status, error.code ?? "http_error", error.message ?? "", error.requestId);
}

/** Creates a pause and waits until it is decided; returns the final pause object. */
async function askApproval(action: string, context: unknown, timeoutSeconds = 3600, tags: string[] = []): Promise<Pause> {
  // One Idempotency-Key per logical request: if the create is retried (say, after a
  // timeout whose answer was lost), hitl returns the first pause instead of a second.
  const headers = { "Idempotency-Key": randomUUID() };
  const body = { action, context, timeoutSeconds, tags };
  let pause: Pause | undefined;
  for (let attempt = 1; pause === undefined; attempt++) {
    try {
      pause = await call<Pause>("POST", "/api/pause", { body, headers });
    } catch (e) {
      if (e instanceof HitlError || attempt === 3) throw e; // retry only network failures
    }
  }
  console.error(`waiting for a decision: ${pause.reviewUrl}`);

  // Withdraw the request on Ctrl-C, so that nobody approves what nobody waits for.
  const watchId = pause.watchId;
  const onSigint = () => {
    call("POST", `/api/pause/${watchId}/cancel`, { body: { reason: "the agent was stopped" } })
      .catch(() => undefined)
      .finally(() => process.exit(2));
  };
  process.once("SIGINT", onSigint);
  try {
    // Long-poll: each GET returns the moment the pause is decided, or after
    // WAIT_SECONDS with the status still "pending"; then ask again.
    while (pause.status === "pending") {
      pause = await call<Pause>("GET", `/api/pause/${watchId}?wait=${WAIT_SECONDS}`);
    }
  } finally {
    process.off("SIGINT", onSigint);
  }
  return pause;
}

/** The risky action itself; here it only says what it would do. */
function deploy(version: string): void {
  console.log(`deploying ${version} to production`);
}

async function main(): Promise<number> {
  if (!HITL_API_KEY) {
    console.error("set HITL_API_KEY to an agent key (hitl key create --name deploy-bot)");
    return 3;
  }
  const version = process.env.DEPLOY_VERSION ?? "v2.4.1";
  let pause: Pause;
  try {
    pause = await askApproval(
      `Deploy ${version} to production`,
      { environment: "prod", version, commit: "a3f9b2e" },
      3600,
      ["deploy", "prod"],
    );
  } catch (e) {
    if (e instanceof HitlError) {
      console.error(`hitl refused the request: ${e.message} (request id ${e.requestId})`);
    } else {
      console.error(`cannot reach hitl at ${HITL_URL}: ${e instanceof Error ? (e.cause ?? e.message) : e}`);
    }
    return 3;
  }

  const { status, resolvedBy: by, comment } = pause;
  switch (status) {
    case "approved":
      console.log(`approved by ${by}: ${comment ?? ""}`);
      deploy(version); // act only on an explicit approval
      return 0;
    case "rejected":
      console.log(`rejected by ${by}: ${comment ?? ""}`);
      return 1;
    case "expired":
    case "cancelled":
      console.log(`${status} (${by}): ${comment ?? ""}`);
      return 2;
    default:
      console.error(`unexpected status ${status}`); // never treat it as approval
      return 3;
  }
}

process.exitCode = await main();
