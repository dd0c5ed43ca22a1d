-- fixed.lua: one fixed request, repeated (the floor, cached GET, /auth/me and login flood
-- routes). The URL given to wrk sets the path; the environment sets the rest:
--   BENCH_METHOD  GET (default) or POST
--   BENCH_TOKEN   sent as `Authorization: Bearer …` when set
--   BENCH_BODY    a JSON body, sent with `Content-Type: application/json` when set
-- No request()/response() functions, so wrk sends a pre-built request and parses no bodies
-- (the cheapest client); non-2xx statuses are counted by wrk itself.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
   wrk.body = body
   wrk.headers["Content-Type"] = "application/json"
end
