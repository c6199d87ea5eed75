-- wrk script for the two-client flood rows of scripts/bench.sh (one
-- client floods wrong passwords while another logs in):
--   wrk ... URL -s scripts/fairness.lua -- MODE MAX
-- MODE "login": the request as given on the command line (-H headers).
-- MODE "spray": a wrong password for another username on every request
--   (victim<thread>x<n>), so only the per-client count of the brute-force
--   guard can stop it; the -H headers (X-Forwarded-For) are kept.
-- MAX: each thread stops after MAX responses (0: no limit; what is already
--   in flight on its connections still arrives), so a run is bounded in
--   requests as well as by -d.
-- done() prints "statuses: 200=N 401=N 429=N 503=N other=N".

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(data)
  return ((data:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

local threads = {}
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

function init(args)
  mode = args[1] or "login"
  max = tonumber(args[2] or "0")
  if mode ~= "login" and mode ~= "spray" then
    error("fairness.lua: MODE is login or spray, not " .. tostring(mode))
  end
  sent = 0; responses = 0
  c200 = 0; c401 = 0; c429 = 0; c503 = 0; cother = 0
end

function request()
  if mode == "login" then
    return wrk.request()
  end
  sent = sent + 1
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Authorization"] = "Basic " .. base64("victim" .. id .. "x" .. sent .. ":guess")
  return wrk.format(nil, nil, headers)
end

function response(status)
  if status == 200 then c200 = c200 + 1
  elseif status == 401 then c401 = c401 + 1
  elseif status == 429 then c429 = c429 + 1
  elseif status == 503 then c503 = c503 + 1
  else cother = cother + 1 end
  responses = responses + 1
  if max > 0 and responses >= max then wrk.thread:stop() end
end

function done()
  local s = { 0, 0, 0, 0, 0 }
  for _, t in ipairs(threads) do
    s[1] = s[1] + t:get("c200"); s[2] = s[2] + t:get("c401"); s[3] = s[3] + t:get("c429")
    s[4] = s[4] + t:get("c503"); s[5] = s[5] + t:get("cother")
  end
  io.write(string.format("statuses: 200=%d 401=%d 429=%d 503=%d other=%d\n",
    s[1], s[2], s[3], s[4], s[5]))
end
