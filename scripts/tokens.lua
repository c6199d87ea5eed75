-- wrk script for the cold-path rows of scripts/bench.sh: every request
-- carries a different token, read from the file given as the first script
-- argument, starting at the line given as the second (0-based), so that
-- each round uses tokens no earlier round sent and no cache can help.
--   wrk ... URL -s scripts/tokens.lua -- FILE OFFSET
local tokens = {}
local next_index = 0

function init(args)
  local path = args[1]
  local offset = tonumber(args[2] or "0")
  for line in io.lines(path) do
    tokens[#tokens + 1] = line
  end
  if #tokens == 0 then
    error("no tokens in " .. path)
  end
  next_index = offset % #tokens
end

function request()
  next_index = next_index % #tokens + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. tokens[next_index] })
end
