-- wrk script of bench/load.ts: sends the requests listed in a file, one per line ("GET <path>" or
-- "POST <path> <urlencoded form body>"), in turn: thread k of n takes lines k, k+n, k+2n, ... so that no two
-- threads send the same push. Counts 404 and other non-2xx answers, and prints one JSON line at the end.
-- With "once", each line is sent at most once: a thread stops when its share of the list is used up.
-- Usage: wrk -s wrk.lua ... URL -- LIST_FILE THREADS once|cycle

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

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local step = tonumber(args[2]) or 1
  local form_headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  for name, value in pairs(wrk.headers) do form_headers[name] = value end
  requests = {}
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^(%S+) (%S+) ?(.*)$")
    if method then
      if body ~= "" then
        requests[#requests + 1] = wrk.format(method, path, form_headers, body)
      else
        requests[#requests + 1] = wrk.format(method, path)
      end
    end
  end
  position = id
  stride = step
  once = args[3] == "once"
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
  local r = requests[(position % #requests) + 1]
  position = position + stride
  return r
end

function response(status, headers, body)
  if status == 404 then
    not_found = not_found + 1
  elseif status < 200 or status > 299 then
    other_status = other_status + 1
  end
end

function done(summary, latency, requests)
  local nf, other = 0, 0
  local first_start, last_stop = nil, 0
  for _, t in ipairs(threads) do
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
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"durationUs":%d,"activeUs":%d,"bytes":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d,"meanUs":%.1f,' ..
    '"notFound":%d,"otherStatus":%d,"connectErrors":%d,"readErrors":%d,"writeErrors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, active, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, nf, other, e.connect, e.read, e.write, e.timeout))
end
