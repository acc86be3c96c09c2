-- POST /api/pause with the seed's example body. With HITL_BENCH_RATE set (creates per
-- second, for a wrk of one thread), each request waits its turn in an even schedule
-- instead of going at once: a steady load rather than as many as the server takes.
wrk.method = "POST"
wrk.body = '{"action":"Deploy to production (v2.4.1)","context":{"environment":"prod","commit":"a3f9b2e"},"tags":["deploy","prod"]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("HITL_BENCH_KEY")

local rate = tonumber(os.getenv("HITL_BENCH_RATE") or "")
if rate then
  local ffi = require("ffi")
  ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } hitl_timespec;
    int clock_gettime(int clock, hitl_timespec *ts);
  ]]
  local ts = ffi.new("hitl_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
  local interval = 1000 / rate
  local next_at = nil

  -- wrk asks before each request how many ms to hold it (whole ms). A request that
  -- finds its turn passed goes at once, and the schedule catches up; one more than a
  -- second behind starts it over from now.
  function delay()
    local now = now_ms()
    next_at = (next_at or now) + interval
    if next_at < now - 1000 then
      next_at = now
    end
    return math.max(0, math.floor(next_at - now + 0.5))
  end
end
