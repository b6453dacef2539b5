-- wrk script: GET or PATCH random customers among the first COUNT imported ones.
-- env: HERALD_API_KEY, BENCH_COUNT, BENCH_MODE (get|patch), BENCH_RATE (requests per second
-- over all of wrk's threads, BENCH_THREADS of them; 0 or unset: every connection sends its
-- next request as soon as the answer is in, a closed loop)
local key = os.getenv("HERALD_API_KEY")
local count = tonumber(os.getenv("BENCH_COUNT") or "1000")
local mode = os.getenv("BENCH_MODE") or "get"
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local threads = tonumber(os.getenv("BENCH_THREADS") or "2")
local cadences = { "EVERY_UPDATE", "MILESTONES", "RESTORATION_ONLY" }

request = function()
  local id = string.format("C-%07d", math.random(1, count))
  local headers = { ["Authorization"] = "Bearer " .. key }
  if mode == "patch" then
    headers["Content-Type"] = "application/json"
    local body = string.format('{"cadence":"%s"}', cadences[math.random(1, 3)])
    return wrk.format("PATCH", "/v1/customers/" .. id .. "/preferences", headers, body)
  end
  return wrk.format("GET", "/v1/customers/" .. id, headers)
end

local errors = 0
response = function(status)
  if status ~= 200 then errors = errors + 1 end
end

-- A fixed rate: each thread hands out send times one interval apart, to whichever of its
-- connections is free next, so the offered rate does not fall when answers are slow (as long
-- as some connection is free). A thread that fell behind starts again from now instead of
-- sending a burst to catch up. wrk waits whole milliseconds, so sends are grouped by the ms.
if rate > 0 then
  local ffi = require("ffi")
  ffi.cdef([[
    typedef struct { long tv_sec; long tv_nsec; } herald_timespec;
    int clock_gettime(int clock, herald_timespec* out);
  ]])
  local ts = ffi.new("herald_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
  local interval = 1000 * threads / rate
  local next_at = nil
  delay = function()
    local now = now_ms()
    if next_at == nil or next_at < now - interval then next_at = now end
    local wait = next_at - now
    next_at = next_at + interval
    return math.max(0, math.floor(wait))
  end
end
