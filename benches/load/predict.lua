-- POST the documented request body to /api/predict.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"amount":250.0,"transaction_hour":14,"merchant_category":"Electronics","foreign_transaction":0,"location_mismatch":0,"device_trust_score":75,"velocity_last_24h":3,"cardholder_age":35}'

-- wrk counts answers other than 2xx/3xx here, so a fast stream of errors
-- cannot pass for throughput.
function done(summary, latency, requests)
  io.write(string.format("non-2xx responses: %d\n", summary.errors.status))
end
