-- Counts 401 and 503 answers of a wrk run (per thread, summed in done()).
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init() c401 = 0; c503 = 0; cother = 0 end
function response(status)
  if status == 401 then c401 = c401 + 1
  elseif status == 503 then c503 = c503 + 1
  else cother = cother + 1 end
end
function done()
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("c401"); b = b + t:get("c503"); c = c + t:get("cother")
  end
  io.write(string.format("statuses: 401=%d 503=%d other=%d\n", a, b, c))
end
