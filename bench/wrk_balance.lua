-- Balance reads over many tenants with Zipf popularity (s from ZIPF_S), mixed with a share
-- of consumes (CONSUME_SHARE); or, with FLOOR=1, the constant floor route for the same tenants.
local tenants = dofile(os.getenv("BENCH_TENANTS_LUA"))
local s = tonumber(os.getenv("ZIPF_S") or "1.1")
local consume_share = tonumber(os.getenv("CONSUME_SHARE") or "0.1")
local floor = os.getenv("FLOOR") == "1"
local cdf, total = {}, 0
for k = 1, #tenants do
  total = total + 1 / (k ^ s)
  cdf[k] = total
end
local made, counter = 0, 0
function setup(thread)
  made = made + 1
  thread:set("tid", made)
end
function init(args)
  math.randomseed(tid * 104729 + os.time())
end
local function pick()
  local u, lo, hi = math.random() * total, 1, #cdf
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < u then lo = mid + 1 else hi = mid end
  end
  return tenants[lo]
end
request = function()
  local t = pick()
  wrk.headers["Authorization"] = "Bearer " .. t[2]
  if floor then
    return wrk.format("GET", "/bench/floor/" .. t[1])
  end
  if math.random() < consume_share then
    counter = counter + 1
    wrk.headers["Content-Type"] = "application/json"
    return wrk.format("POST", "/credits/consume", nil, string.format('{"tenant_id":"%s","amount":1}', t[1]))
  end
  return wrk.format("GET", "/credits/balance/" .. t[1])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d p50_us=%d p99_us=%d duration_us=%d\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99), summary.duration))
end
