-- wrk script for the garbage-token flood of `scripts/bench.sh floods`:
-- every request carries a different random token shaped like an HS256 JWT
-- (the real header `{"alg":"HS256","typ":"JWT"}`, then a random payload
-- and a random signature in base64url), so that the server cannot answer
-- from any cache and each request costs a signature check before it is
-- refused with 401. The tokens (POOL of them, 5 000 by default) are made
-- in init() and sent in turn, so that wrk's own work per request stays as
-- small as for a fixed header; the server keeps no record of refused
-- tokens, so a token coming round again costs it the same.
--   wrk ... URL -s scripts/floods.lua [-- PAYLOAD_CHARS [POOL]]   (default 160 5000)
local header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local pool = {}
local next_index = 0

local function random_segment(n)
  local out = {}
  for i = 1, n do
    local k = math.random(1, 64)
    out[i] = alphabet:sub(k, k)
  end
  return table.concat(out)
end

function init(args)
  local payload_chars = tonumber(args[1] or "160")
  local size = tonumber(args[2] or "5000")
  -- Different sequences per wrk thread and per run.
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  for i = 1, size do
    pool[i] = header .. "." .. random_segment(payload_chars) .. "." .. random_segment(43)
  end
end

function request()
  next_index = next_index % #pool + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. pool[next_index] })
end
