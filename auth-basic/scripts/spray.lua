-- Password spraying for wrk: a wrong password for another username on every
-- request (victim<thread>x<n>), so only the per-client count of the
-- brute-force guard can stop it. Statuses are counted as in status-count.lua.
dofile(os.getenv("STATUS_LUA") or "auth-basic/scripts/status-count.lua")

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

local base_setup, base_init = setup, init
local next_id = 0
function setup(thread)
  base_setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
end
local n = 0
function init(args)
  base_init()
end
function request()
  n = n + 1
  local credentials = base64("victim" .. id .. "x" .. n .. ":guess")
  return wrk.format("GET", "/basic", { ["Authorization"] = "Basic " .. credentials })
end
