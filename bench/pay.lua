-- A whole Pay, over and over: create an order (POST /api/v1/orders/), then pay it through the
-- simulator (POST .../payments/) with a fresh Idempotency-Key. Orders created by a thread wait
-- in its queue until one of its connections pays them, so every request is a real step of a
-- Pay and no key is ever sent twice. Counts: `paid` (201) and `refused` (anything else).
local queue = {}
local counter = 0
-- Globals, so that done() can read each thread's counts.
paid, refused, created = 0, 0, 0
local thread_id = 0
local create_body = '{"email": "bench@example.com", "items": [{"sku": "mug-classic", "quantity": 1}]}'
local pay_body = '{"method": "card", "payment_method": "pm_card_visa"}'
local threads = {}

function setup(thread)
  thread_id = thread_id + 1
  thread:set("id", thread_id)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
end

function request()
  local order = table.remove(queue, 1)
  if order then
    counter = counter + 1
    local key = string.format("wrk-%d-%d-%d-%d", id, os.time(), counter, math.random(1, 1e9))
    return wrk.format("POST", "/api/v1/orders/" .. order.number .. "/payments/", {
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = key,
      ["X-Client-Secret"] = order.secret,
    }, pay_body)
  end
  return wrk.format("POST", "/api/v1/orders/", { ["Content-Type"] = "application/json" }, create_body)
end

function response(status, headers, body)
  if status == 201 and string.find(body, '"client_secret"', 1, true) then
    local number = string.match(body, '"number"%s*:%s*"([^"]+)"')
    local secret = string.match(body, '"client_secret"%s*:%s*"([^"]+)"')
    created = created + 1
    table.insert(queue, { number = number, secret = secret })
  elseif status == 201 then
    paid = paid + 1
  else
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local p, r, c = 0, 0, 0
  for _, thread in ipairs(threads) do
    p = p + (thread:get("paid") or 0)
    r = r + (thread:get("refused") or 0)
    c = c + (thread:get("created") or 0)
  end
  io.write(string.format("Pays: %d orders created, %d paid, %d refused\n", c, p, r))
end
