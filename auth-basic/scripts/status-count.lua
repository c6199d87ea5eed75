-- Counts the statuses of a wrk run (per thread, summed in done()).
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init() c200 = 0; c401 = 0; c429 = 0; c503 = 0; cother = 0 end
function response(status)
  if status == 200 then c200 = c200 + 1
  elseif status == 401 then c401 = c401 + 1
  elseif status == 429 then c429 = c429 + 1
  elseif status == 503 then c503 = c503 + 1
  else cother = cother + 1 end
end
function done()
  local s = {0, 0, 0, 0, 0}
  for _, t in ipairs(threads) do
    s[1] = s[1] + t:get("c200"); s[2] = s[2] + t:get("c401"); s[3] = s[3] + t:get("c429")
    s[4] = s[4] + t:get("c503"); s[5] = s[5] + t:get("cother")
  end
  io.write(string.format("statuses: 200=%d 401=%d 429=%d 503=%d other=%d\n",
    s[1], s[2], s[3], s[4], s[5]))
end
