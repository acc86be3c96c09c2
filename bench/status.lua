-- GET /api/pause/:watchId with an agent key.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("HITL_BENCH_KEY")
