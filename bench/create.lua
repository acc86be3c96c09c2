-- POST /api/pause with the seed's example body.
wrk.method = "POST"
wrk.body = '{"action":"Deploy to production (v2.4.1)","context":{"environment":"prod","commit":"a3f9b2e"},"tags":["deploy","prod"]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("HITL_BENCH_KEY")
