-- wrk script of bench/load.ts: sends the requests listed in a file, one per line ("GET <path>" or
-- "POST <path> <urlencoded form body>"), in turn: thread k of n takes lines k, k+n, k+2n, ... so that no two
-- threads send the same push. Counts 404 and other non-2xx answers, and prints one JSON line at the end.
-- With "once", each line is sent at most once: a thread stops when its share of the list is used up.
-- With "split" (one connection per thread, so a response answers the thread's last request), the latencies of
-- GETs (lookups) and POSTs (pushes) are also timed apart and their percentiles printed.
-- With WRK_PORTS=P1,P2,... in the environment (several instances of a server on loopback), thread k connects to
-- 127.0.0.1:P(k mod n + 1): the load is spread evenly over the instances.
-- Usage: wrk -s wrk.lua ... URL -- LIST_FILE THREADS once|cycle [split]

local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_usec; } bench_timeval;
  int gettimeofday(bench_timeval *tv, void *tz);
]]

-- Wall clock in microseconds: wrk's own duration is always the -d given, even when every thread stopped early.
local function now_us()
  local tv = ffi.new("bench_timeval")
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec)
end

local threads = {}
local next_id = 0

local instance_addrs = nil

function setup(thread)
  local ports = os.getenv("WRK_PORTS") or ""
  if instance_addrs == nil then
    instance_addrs = {}
    for port in ports:gmatch("%d+") do instance_addrs[#instance_addrs + 1] = wrk.lookup("127.0.0.1", port)[1] end
  end
  if #instance_addrs > 0 then thread.addr = instance_addrs[(next_id % #instance_addrs) + 1] end
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local step = tonumber(args[2]) or 1
  local form_headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  for name, value in pairs(wrk.headers) do form_headers[name] = value end
  requests = {}
  posts = {}
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^(%S+) (%S+) ?(.*)$")
    if method then
      if body ~= "" then
        requests[#requests + 1] = wrk.format(method, path, form_headers, body)
      else
        requests[#requests + 1] = wrk.format(method, path)
      end
      posts[#requests] = method == "POST"
    end
  end
  position = id
  stride = step
  once = args[3] == "once"
  split = args[4] == "split"
  lookup_us = {}
  push_us = {}
  sent_us = 0
  sent_post = false
  started_us = now_us()
  stopped_us = 0
  not_found = 0
  other_status = 0
end

function request()
  if once and position + stride >= #requests then
    -- This thread's last line: stop after it (the event loop ends once this turn is done).
    if stopped_us == 0 then stopped_us = now_us() end
    wrk.thread:stop()
  end
  local i = (position % #requests) + 1
  position = position + stride
  if split then
    sent_us = now_us()
    sent_post = posts[i]
  end
  return requests[i]
end

function response(status, headers, body)
  if split and sent_us > 0 then
    local list = sent_post and push_us or lookup_us
    list[#list + 1] = now_us() - sent_us
    sent_us = 0
  end
  if status == 404 then
    not_found = not_found + 1
  elseif status < 200 or status > 299 then
    other_status = other_status + 1
  end
end

-- The p-th percentile of a sorted list (0 when empty), as bench/load.ts computes it.
local function percentile(sorted, p)
  if #sorted == 0 then return 0 end
  return sorted[math.min(#sorted, math.floor(p / 100 * #sorted) + 1)]
end

function done(summary, latency, requests)
  local lookups, pushes = {}, {}
  local nf, other = 0, 0
  local first_start, last_stop = nil, 0
  for _, t in ipairs(threads) do
    for _, v in ipairs(t:get("lookup_us") or {}) do lookups[#lookups + 1] = v end
    for _, v in ipairs(t:get("push_us") or {}) do pushes[#pushes + 1] = v end
    nf = nf + t:get("not_found")
    other = other + t:get("other_status")
    local started, stopped = t:get("started_us"), t:get("stopped_us")
    if first_start == nil or started < first_start then first_start = started end
    if stopped == 0 then stopped = started + summary.duration end
    if stopped > last_stop then last_stop = stopped end
  end
  -- The time the threads were sending: the duration, or less when every thread used up its share of a list.
  local active = math.min(summary.duration, last_stop - first_start)
  local e = summary.errors
  table.sort(lookups)
  table.sort(pushes)
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"durationUs":%d,"activeUs":%d,"bytes":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d,"meanUs":%.1f,' ..
    '"notFound":%d,"otherStatus":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"timeouts":%d,' ..
    '"lookups":%d,"lookupP50Us":%d,"lookupP99Us":%d,"pushes":%d,"pushP50Us":%d,"pushP99Us":%d}\n',
    summary.requests, summary.duration, active, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, nf, other, e.connect, e.read, e.write, e.timeout,
    #lookups, percentile(lookups, 50), percentile(lookups, 99), #pushes, percentile(pushes, 50), percentile(pushes, 99)))
end
