-- wrk script shared by every scenario (https://github.com/wg/wrk/blob/master/SCRIPTING).
--   wrk ... -s scenario.lua http://127.0.0.1:PORT -- GET  <file of paths>
--   wrk ... -s scenario.lua http://127.0.0.1:PORT -- POST <file of JSON bodies> <path>
-- Each request takes a random line of the file. Non-2xx responses are counted per thread and
-- done() prints one "BENCH_RESULT {json}" line with wrk's own latency percentiles.

local threads = {}
local items = {}
local method, target

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  method, target = args[1], args[3]
  for line in io.lines(args[2]) do
    if #line > 0 then items[#items + 1] = line end
  end
  math.randomseed(os.time() * 1000 + tid)
  non2xx = 0
  wrk.headers["Accept"] = "application/fhir+json"
  if method == "POST" then wrk.headers["Content-Type"] = "application/fhir+json" end
end

function request()
  local item = items[math.random(#items)]
  if method == "GET" then return wrk.format("GET", item) end
  return wrk.format("POST", target, nil, item)
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes, bad,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
