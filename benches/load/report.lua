-- report.lua: shared by every load-benchmark script (loaded with dofile, never given to wrk
-- directly). Remembers wrk's threads in setup(), lets a script hand each thread its own
-- values through bench_thread_setup(thread, index), and in done() prints one line
--   BENCH_RESULT {"requests":…,"duration_us":…,"errors":{…},"latency_us":{…},…}
-- that benches/load/run parses. Per-thread counters a script keeps in the globals `ok`
-- (successful responses) and `statuses` (count by HTTP status) are summed into "ok" and
-- "statuses"; without them the runner counts every status below 400 as a success.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_index", #threads)
   if bench_thread_setup then
      bench_thread_setup(thread, #threads)
   end
end

-- A JSON object of numbers (nested tables become nested objects; keys become strings).
local function json_object(t)
   local parts = {}
   for key, value in pairs(t) do
      local encoded
      if type(value) == "table" then
         encoded = json_object(value)
      elseif value ~= value or value == math.huge or value == -math.huge then
         encoded = "0" -- nan/inf (no requests): JSON has no such numbers
      else
         encoded = string.format("%.17g", value)
      end
      table.insert(parts, string.format("%q:%s", tostring(key), encoded))
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local ok, counted = 0, false
   local statuses = {}
   for _, thread in ipairs(threads) do
      local thread_ok = thread:get("ok")
      if thread_ok then
         ok = ok + thread_ok
         counted = true
      end
      local thread_statuses = thread:get("statuses")
      if thread_statuses then
         for status, n in pairs(thread_statuses) do
            local key = tostring(status)
            statuses[key] = (statuses[key] or 0) + n
         end
      end
   end
   local result = {
      requests = summary.requests,
      duration_us = summary.duration,
      bytes = summary.bytes,
      errors = {
         connect = summary.errors.connect,
         read = summary.errors.read,
         write = summary.errors.write,
         status = summary.errors.status,
         timeout = summary.errors.timeout,
      },
      latency_us = {
         p50 = latency:percentile(50),
         p90 = latency:percentile(90),
         p99 = latency:percentile(99),
         max = latency.max,
         mean = latency.mean,
      },
      statuses = statuses,
   }
   if counted then
      result.ok = ok
   end
   io.write("BENCH_RESULT ", json_object(result), "\n")
end
