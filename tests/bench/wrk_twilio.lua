-- wrk script: POST Twilio Messages.json requests, as heraldd sends them, to tests/bench/twilio_sink.
-- Form-encoded To, From, Body (outage texts in English and Spanish) and StatusCallback, with
-- HTTP Basic auth. 1,024 distinct requests are built once and sent in turn, so wrk spends its
-- time on the wire, not in Lua.
-- env: SINK_ACCOUNT_SID (default AC + 32 zeros), SINK_AUTH_TOKEN (default sink-auth-token),
--      SINK_FROM (default +15550001111), SINK_CALLBACK_BASE (default http://127.0.0.1:8080)
local sid = os.getenv("SINK_ACCOUNT_SID") or ("AC" .. string.rep("0", 32))
local token = os.getenv("SINK_AUTH_TOKEN") or "sink-auth-token"
local from = os.getenv("SINK_FROM") or "+15550001111"
local callback_base = os.getenv("SINK_CALLBACK_BASE") or "http://127.0.0.1:8080"

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = {}
    for k = 3, 0, -1 do
      local v = math.floor(n / 64 ^ k) % 64
      chars[#chars + 1] = alphabet:sub(v + 1, v + 1)
    end
    if not b then chars[3] = "=" end
    if not c then chars[4] = "=" end
    out[#out + 1] = table.concat(chars)
  end
  return table.concat(out)
end

local function form_escape(s)
  return (s:gsub("[^%w%-%._~]", function(ch)
    return string.format("%%%02X", ch:byte())
  end))
end

local function form(fields)
  local parts = {}
  for _, kv in ipairs(fields) do
    parts[#parts + 1] = kv[1] .. "=" .. form_escape(kv[2])
  end
  return table.concat(parts, "&")
end

local streets = { "Elm St", "Oak Ave", "Maple Pl", "Bleecker St", "Calle Sol", "Avenida Colón" }
local etrs = { "6:00 PM", "7:30 PM", "11:15 PM", "1:45 AM" }
local texts = {
  "Power outage at %d %s (ref OUT-BENCH). Estimated restoration: %s. Reply STOP to opt out.",
  "Corte de luz en %d %s (OUT-BENCH). Hora estimada de regreso: %s. Responda STOP para cancelar.",
}

local path = "/2010-04-01/Accounts/" .. sid .. "/Messages.json"
local headers = {
  ["Authorization"] = "Basic " .. base64(sid .. ":" .. token),
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Accept"] = "application/json",
}
local requests = {}
local next_request = 1

local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

init = function()
  math.randomseed(os.time() * 100 + (thread_number or 0))
  for i = 1, 1024 do
    local to = string.format("+1212%03d%04d", math.random(200, 999), math.random(0, 9999))
    local body = string.format(texts[i % 2 + 1], math.random(1, 999), streets[math.random(#streets)],
                               etrs[math.random(#etrs)])
    local callback = string.format("%s/v1/webhooks/twilio/status?m=OUT-BENCH.1.SMS.%d",
                                   callback_base, math.random(1, 1000000000))
    requests[i] = wrk.format("POST", path, headers,
                             form({ { "To", to }, { "From", from }, { "Body", body },
                                    { "StatusCallback", callback } }))
  end
end

request = function()
  local r = requests[next_request]
  next_request = next_request % #requests + 1
  return r
end

-- No response(): wrk then skips handing every reply to Lua; its own "Non-2xx or 3xx
-- responses" line reports any error status the sink sent.
done = function(summary)
  io.write(string.format("requests %d, errors (connect %d, read %d, write %d, timeout %d)\n",
                         summary.requests, summary.errors.connect, summary.errors.read,
                         summary.errors.write, summary.errors.timeout))
end
