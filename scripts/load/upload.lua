-- wrk script: POSTs one multipart upload (field inputFile) to the path in $LOAD_PATH.
-- $LOAD_FILE: the file to send; $LOAD_NAME: the file name in the form (default: its basename);
-- $LOAD_PAD: extra bytes appended to the file (to exceed the size limit).
-- Prints the status histogram and p50/p90/p99 latency at the end.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  local path = os.getenv("LOAD_FILE")
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  local pad = tonumber(os.getenv("LOAD_PAD") or "0")
  if pad > 0 then data = data .. string.rep("x", pad) end
  local name = os.getenv("LOAD_NAME") or path:match("([^/]+)$")
  local boundary = "wrk-boundary-7d1f0c2a"
  wrk.method = "POST"
  wrk.path = os.getenv("LOAD_PATH") or "/v1/images"
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
  local token = os.getenv("LOAD_TOKEN")
  if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
  wrk.body = "--" .. boundary .. "\r\n" ..
    'Content-Disposition: form-data; name="inputFile"; filename="' .. name .. '"\r\n' ..
    "Content-Type: application/octet-stream\r\n\r\n" .. data .. "\r\n--" .. boundary .. "--\r\n"
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do total[status] = (total[status] or 0) + n end
  end
  local keys = {}
  for status in pairs(total) do table.insert(keys, status) end
  table.sort(keys)
  for _, status in ipairs(keys) do io.write(string.format("status %d: %d\n", status, total[status])) end
  io.write(string.format("requests/s: %.1f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("socket errors: connect %d, read %d, write %d, timeout %d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
