-- wrk script for the AWS JSON facade (awsJson 1.0 / 1.1 over HTTP/1.1).
--
--   wrk ... -s bench/facade.lua http://127.0.0.1:PORT/ -- TARGET CONTENT_TYPE ACCOUNT MODE [ARGS]
--
-- MODE
--   fixed BODY            the same request every time
--   random-request LO HI  GetResourceRequestStatus of a random seeded request
--                         number in [LO, HI] (token layout as bench/sql/seed_requests.sql)
--   scopes N BODY         the same body, signed as one of N accounts
--                         (ACCOUNT, ACCOUNT+1, ...) picked at random: N scopes
--   keys FIELD KEY...     {"FIELD":"KEY"} with KEY picked at random
--
-- The account is the access key id of a SigV4-shaped Authorization header
-- (statusgate does not verify signatures). done() prints one line:
--   BENCHJSON requests duration_us connect read write status timeout p50_us p99_us

local target, content_type, account, mode
local fixed_request
local scoped_requests = {}
local lo, hi
local account_headers

local thread_counter = 0

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_number", thread_counter)
end

local function authorization(key)
  return "AWS4-HMAC-SHA256 Credential=" .. key
    .. "/20260101/us-east-1/bench/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"
end

local function headers_for(key)
  return {
    ["Content-Type"] = content_type,
    ["X-Amz-Target"] = target,
    ["Authorization"] = authorization(key),
  }
end

-- The request token of seeded request number i: the first group scatters the
-- keys over the index like random UUIDs, the last group is i.
function request_token(i)
  local h = (i * 1000003) % 4294967296
  return string.format("%04x%04x-0000-4000-8000-%012x",
    math.floor(h / 65536), h % 65536, i)
end

function init(args)
  target, content_type, account, mode = args[1], args[2], args[3], args[4]
  local seed = (thread_number or 1) * 7919 + os.time()
  math.randomseed(seed)
  if mode == "fixed" then
    fixed_request = wrk.format("POST", "/", headers_for(account), args[5])
  elseif mode == "random-request" then
    lo, hi = tonumber(args[5]), tonumber(args[6])
    account_headers = headers_for(account)
  elseif mode == "scopes" then
    local n = tonumber(args[5])
    for k = 0, n - 1 do
      local key = string.format("%012.0f", tonumber(account) + k)
      scoped_requests[k + 1] = wrk.format("POST", "/", headers_for(key), args[6])
    end
  elseif mode == "keys" then
    local field = args[5]
    for k = 6, #args do
      scoped_requests[#scoped_requests + 1] =
        wrk.format("POST", "/", headers_for(account), '{"' .. field .. '":"' .. args[k] .. '"}')
    end
  else
    error("unknown mode " .. tostring(mode))
  end
end

function request()
  if fixed_request then
    return fixed_request
  elseif lo then
    local body = '{"RequestToken":"' .. request_token(math.random(lo, hi)) .. '"}'
    return wrk.format("POST", "/", account_headers, body)
  else
    return scoped_requests[math.random(1, #scoped_requests)]
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCHJSON %d %d %d %d %d %d %d %.0f %.0f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
