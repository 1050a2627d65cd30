-- wrk script for the AWS JSON facade (awsJson 1.0 / 1.1 over HTTP/1.1). The
-- benchmark tool (bench/tool/) writes the requests and checks each once
-- through a real HTTP client before the run; this only sends them.
--
--   wrk ... -s bench/facade.lua http://127.0.0.1:PORT/ -- TARGET CONTENT_TYPE REQUESTS [LO HI]
--
-- REQUESTS  a file with one request a line: its authentication headers
--           (`Name: value`: Authorization, and Host and X-Amz-Date when it
--           is really signed), each followed by a tab, then the JSON body
--           (one of the facade's own shapes, serialized).
--           Each request sends a line picked at random.
-- LO HI     in every body, @SEEDED_REQUEST_TOKEN@ is replaced, per request,
--           by the token of a seeded request number in [LO, HI] picked at
--           random (the layout of bench/sql/seed_requests.sql).
--
-- done() prints one line:
--   BENCHJSON requests duration_us connect read write status timeout p50_us p99_us

local PLACEHOLDER = "@SEEDED_REQUEST_TOKEN@"

local requests = {}   -- ready-made requests (no range)
local templates = {}  -- {headers, before, after} around the placeholder (range)
local lo, hi

local thread_counter = 0

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_number", thread_counter)
end

-- The request token of seeded request number i: the first group scatters the
-- keys over the index like random UUIDs, the last group is i. The tool's
-- seeded_request_token and bench/sql/seed_requests.sql compute the same.
local function request_token(i)
  local h = (i * 1000003) % 4294967296
  return string.format("%04x%04x-0000-4000-8000-%012x",
    math.floor(h / 65536), h % 65536, i)
end

function init(args)
  local target, content_type, file = args[1], args[2], args[3]
  if args[4] then
    lo, hi = tonumber(args[4]), tonumber(args[5])
  end
  math.randomseed((thread_number or 1) * 7919 + os.time())
  for line in io.lines(file) do
    local headers = {
      ["Content-Type"] = content_type,
      ["X-Amz-Target"] = target,
    }
    local rest, authenticated = line, false
    while true do
      local name, value, after = rest:match("^([%w-]+): ([^\t]*)\t(.*)$")
      if not name then break end
      headers[name] = value
      rest, authenticated = after, true
    end
    local body = rest
    if not authenticated then
      error("bad request line in " .. file .. ": " .. line)
    end
    if lo then
      local first, last = body:find(PLACEHOLDER, 1, true)
      if not first then
        error("no " .. PLACEHOLDER .. " in " .. body)
      end
      templates[#templates + 1] = {headers, body:sub(1, first - 1), body:sub(last + 1)}
    else
      requests[#requests + 1] = wrk.format("POST", "/", headers, body)
    end
  end
  if #requests + #templates == 0 then
    error("no requests in " .. file)
  end
end

function request()
  if lo then
    local template = templates[math.random(1, #templates)]
    local body = template[2] .. request_token(math.random(lo, hi)) .. template[3]
    return wrk.format("POST", "/", template[1], body)
  end
  return requests[math.random(1, #requests)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCHJSON %d %d %d %d %d %d %d %.0f %.0f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
