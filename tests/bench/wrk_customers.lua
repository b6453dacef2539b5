-- wrk script: GET or PATCH random customers among the first COUNT imported ones.
-- env: HERALD_API_KEY, BENCH_COUNT, BENCH_MODE (get|patch), BENCH_DELAY_MS (pause per
-- request per connection: with C connections the offered rate is about C*1000/delay per second)
local key = os.getenv("HERALD_API_KEY")
local count = tonumber(os.getenv("BENCH_COUNT") or "1000")
local mode = os.getenv("BENCH_MODE") or "get"
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
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

if pause > 0 then
  delay = function()
    return pause
  end
end
