-- POST /camouflage/encrypt of a card-sized value, or with FLOOR=1 the constant floor GET.
local tenants = dofile(os.getenv("BENCH_TENANTS_LUA"))
local floor = os.getenv("FLOOR") == "1"
local made = 0
function setup(thread)
  made = made + 1
  thread:set("tid", made)
end
function init(args)
  math.randomseed(tid * 7907 + os.time())
end
request = function()
  local t = tenants[math.random(1, #tenants)]
  wrk.headers["Authorization"] = "Bearer " .. t[2]
  if floor then
    return wrk.format("GET", "/bench/floor/" .. t[1])
  end
  wrk.headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/camouflage/encrypt", nil, '{"plaintext":"4111111111111111","context":"checkout"}')
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d p50_us=%d p99_us=%d duration_us=%d\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99), summary.duration))
end
