#!/usr/bin/env python3
"""Fills a hitl data directory with N realistic pauses (statuses, tags, keys, dates
over 90 days, audit entries), for timing the web pages. Standard library only; the
rows are what hitl itself writes. Run against a database that `hitl` created."""

import json
import random
import sqlite3
import sys
import time

db_path, count = sys.argv[1], int(sys.argv[2])
random.seed(42)
conn = sqlite3.connect(db_path)
keys = [r[0] for r in conn.execute("SELECT id FROM api_keys WHERE kind = 'agent'")]
assert keys, "create agent keys first"

verbs = ["Deploy", "Roll back", "Send", "Delete", "Migrate", "Refund", "Email", "Restart", "Scale", "Rotate"]
objects = ["billing-api to production", "renewal email to 1,204 customers", "stale branches", "orders table",
           "invoice #{n}", "support reply to ticket #{n}", "search cluster", "workers to 12 replicas", "TLS keys", "CRM record {n}"]
tags_pool = ["deploy", "prod", "staging", "email", "db", "finance", "support", "infra", "security", "crm"]
statuses = ["approved"] * 60 + ["rejected"] * 25 + ["expired"] * 7 + ["cancelled"] * 3 + ["pending"] * 5
reviewers = ["alice@example.com", "bob@example.com", "carol@example.com"]

now = int(time.time() * 1000)
start = now - 90 * 86_400_000
step = (now - start) // count
alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

conn.execute("BEGIN")
for i in range(count):
    created = start + i * step
    key = random.choice(keys)
    n = random.randint(1000, 99999)
    action = f"{random.choice(verbs)} {random.choice(objects).format(n=n)}"
    tags = random.sample(tags_pool, random.randint(0, 3))
    status = random.choice(statuses) if i < count - 200 else "pending"
    context = {"requestedBy": key, "ticket": n, "commit": "%07x" % random.getrandbits(28),
               "environment": random.choice(["prod", "staging"]), "notes": "seeded for the page benchmark"}
    watch_id = "wch_%011x%s" % (created, "".join(random.choice(alphabet) for _ in range(22)))
    expires = created + 3_600_000 if random.random() < 0.5 else None
    resolved_at = resolved_by = comment = None
    if status != "pending":
        resolved_at = created + random.randint(10_000, 3_000_000)
        resolved_by = {"expired": "system", "cancelled": "bot"}.get(status, random.choice(reviewers))
        comment = random.choice([None, "ok", "not now", "ship it"]) if status in ("approved", "rejected") else None
    cur = conn.execute(
        "INSERT INTO pauses (watch_id, key_id, status, action, context, tags, created_at, expires_at,"
        " resolved_at, resolved_by, comment) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (watch_id, key, status, action, json.dumps(context), json.dumps(tags), created, expires,
         resolved_at, resolved_by, comment))
    pid = cur.lastrowid
    for t in tags:
        conn.execute("INSERT INTO pause_tags (tag, pause_id) VALUES (?, ?)", (t, pid))
    conn.execute("INSERT INTO audit (at, actor, event, watch_id, details) VALUES (?,?,?,?,?)",
                 (created, "key:" + key, "pause.created", watch_id, json.dumps({"tags": tags})))
    if status != "pending":
        conn.execute("INSERT INTO audit (at, actor, event, watch_id, details) VALUES (?,?,?,?,?)",
                     (resolved_at, "user:" + str(resolved_by), "pause." + status, watch_id,
                      json.dumps({"by": resolved_by, "comment": comment})))
conn.execute("COMMIT")
conn.execute("ANALYZE")
print(f"seeded {count} pauses")
