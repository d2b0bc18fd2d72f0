-- POST the documented body to /api/predict and write the X-Request-Id of
-- every 200 answer to "$SCALE_IDS.<thread>", one per line, so run.sh can
-- check each answered prediction against the rows in PostgreSQL.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}'

local threads = 0

function setup(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end

local ids
local other = 0

function init(args)
  ids = io.open(os.getenv("SCALE_IDS") .. "." .. thread_number, "w")
  ids:setvbuf("full")
end

function response(status, headers, body)
  if status == 200 then
    ids:write(headers["x-request-id"] or headers["X-Request-Id"] or "missing-request-id", "\n")
  else
    other = other + 1
  end
end

-- wrk counts answers other than 2xx/3xx here, so a fast stream of errors
-- cannot pass for throughput.
function done(summary, latency, requests)
  io.write(string.format("non-2xx responses: %d\n", summary.errors.status))
end
