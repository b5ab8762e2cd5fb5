-- POST /credits/consume for a random tenant (keys in tenants.lua), each with a fresh idempotency key.
local tenants = dofile(os.getenv("BENCH_TENANTS_LUA"))
local counter = 0
local made = 0
function setup(thread)
  made = made + 1
  thread:set("tid", made)
end
function init(args)
  math.randomseed(tid * 7919 + os.time())
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  counter = counter + 1
  local t = tenants[math.random(1, #tenants)]
  wrk.headers["Authorization"] = "Bearer " .. t[2]
  local body = string.format('{"tenant_id":"%s","amount":1,"idempotency_key":"b%d-%d-%d"}', t[1], os.time(), tid, counter)
  return wrk.format(nil, "/credits/consume", nil, body)
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d p50_us=%d p99_us=%d duration_us=%d\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99), summary.duration))
end
