-- wrk script: acquires only. Each request POSTs to a fresh resource with a 50 ms lifetime,
-- so the daemon's timers release the locks.
--   wrk -t2 -c10 -d10s -s Benchmarks/Sources/rdlm-client-bench/wrk-acquire.lua http://127.0.0.1:8888
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  prefix = "/locks/wrkacq" .. id .. "n"
  counter = 0
end

function request()
  counter = counter + 1
  return wrk.format("POST", prefix .. counter,
    {["Content-Type"] = "application/json"}, '{"title": "wrk", "lifetime": 0.05, "wait": 10}')
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx answers: %d\n", summary.errors.status))
end
