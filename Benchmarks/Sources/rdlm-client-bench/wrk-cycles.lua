-- wrk script: the raw-HTTP counterpart of rdlm-client-bench. Each request either acquires a
-- lock on a fresh resource (POST) or releases one acquired earlier on this thread (DELETE
-- its Location), so two requests make one acquire/release cycle.
--   wrk -t2 -c10 -d10s -s Benchmarks/Sources/rdlm-client-bench/wrk-cycles.lua http://127.0.0.1:8888
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  -- Names unique per thread: wrk's threads would all draw the same random numbers.
  prefix = "/locks/wrk" .. id .. "n"
  counter = 0
  pending = {}
end

function request()
  local path = table.remove(pending)
  if path then
    return wrk.format("DELETE", path)
  end
  counter = counter + 1
  return wrk.format("POST", prefix .. counter,
    {["Content-Type"] = "application/json"}, '{"title": "wrk", "lifetime": 10, "wait": 10}')
end

function response(status, headers, body)
  if status == 201 then
    table.insert(pending, (headers["Location"]:gsub("^https?://[^/]+", "")))
  end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format("cycles: %d (%.0f/s), non-2xx answers: %d, socket errors: %d\n",
    summary.requests / 2, summary.requests / 2 / seconds, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
