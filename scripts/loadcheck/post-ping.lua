-- wrk script: POSTs a GitLab-shaped ping whose uuid changes on every request, so each one is a
-- new ping to store (not a duplicate). The body template comes from PING_TEMPLATE (a file with
-- the placeholder __UUID__).
local template
local prefix = os.getenv("UUID_PREFIX") or tostring(os.time())
local counter = 0
local threadId = 0
local threads = {}
local nextThread = 0

function setup(thread)
  nextThread = nextThread + 1
  thread:set("tid", nextThread)
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("PING_TEMPLATE")
  local f = assert(io.open(path, "rb"))
  template = f:read("*a")
  f:close()
  threadId = tid
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local uuid = string.format("load-%s-%d-%d", prefix, threadId, counter)
  local body = template:gsub("__UUID__", uuid, 1)
  return wrk.format(nil, "/usage_data", nil, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("non-2xx or socket errors: %d\n", errors))
end
