-- refresh.lua: refresh-token rotation chains, POST /api/v1/auth/refresh. Each refresh spends
-- the token it sends and answers a new one, so every chain must be sequential: run wrk with
-- one connection per thread (-t N -c N); within a thread, wrk calls response() before the
-- next request(). BENCH_TOKENS_FILE holds one refresh token per line, one per thread (each
-- from its own login). Only 200s count as successes ("ok"); every status is tallied.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
   if line ~= "" then
      table.insert(tokens, line)
   end
end

function bench_thread_setup(thread, index)
   local token = tokens[index]
   if not token then
      error("refresh.lua: no refresh token for thread " .. index .. " (need one per thread)")
   end
   thread:set("refresh_token", token)
end

local headers = { ["Content-Type"] = "application/json" }

function init(args)
   ok = 0
   statuses = {}
end

function request()
   return wrk.format("POST", nil, headers, '{"refreshToken":"' .. refresh_token .. '"}')
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status == 200 then
      local next_token = body:match('"refreshToken"%s*:%s*"([^"]+)"')
      if next_token then
         ok = ok + 1
         refresh_token = next_token
      end
   end
end
