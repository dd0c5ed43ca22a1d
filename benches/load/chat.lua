-- chat.lua: non-streaming chat sends, POST /api/v1/sessions/{id}/messages with a short
-- `{"content":…}` body. BENCH_CHATS_FILE holds one chat-session id per line; requests go
-- round robin over them (each thread starting at its own offset), so no single conversation
-- grows long. BENCH_TOKEN is the bearer token of the chats' owner. Non-2xx statuses are
-- counted by wrk itself.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local paths = {}
for line in io.lines(os.getenv("BENCH_CHATS_FILE")) do
   if line ~= "" then
      table.insert(paths, "/api/v1/sessions/" .. line .. "/messages")
   end
end

local headers = {
   ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
   ["Content-Type"] = "application/json",
}
local body = '{"content":"Give me a one-line status update, please."}'
local next_path = 1

function init(args)
   -- thread_index is set by report.lua's setup()
   next_path = ((thread_index or 1) - 1) % #paths + 1
end

function request()
   local path = paths[next_path]
   next_path = next_path % #paths + 1
   return wrk.format("POST", path, headers, body)
end
