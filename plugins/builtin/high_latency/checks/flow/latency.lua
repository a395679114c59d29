-- The round trip of a flow of a listed application, against its threshold.
-- Latencies come from exporters that measure them (nProbe's
-- CLIENT_NW_LATENCY_MS and SERVER_NW_LATENCY_MS); flows without them are
-- left alone.
local function check(flow, conf)
  local limit = conf.thresholds[flow:app()] or conf.thresholds[flow:master_app()]
  local rtt = flow:rtt()
  if limit and rtt > limit then
    flow:setStatus("high_latency", { info = { rtt_ms = rtt, threshold_ms = limit } })
  end
end

return {
  title = "Latency over a threshold",
  description = "Sets high_latency on flows whose round trip exceeds their application's "
             .. "threshold.",
  config = {
    thresholds = { type = "map", of = "number", default = { RDP = 250 }, min = 0,
                   description = "milliseconds of round trip allowed, per nDPI application" },
  },
  filter = function(conf)
    local apps = {}
    for app in pairs(conf.thresholds) do apps[#apps + 1] = app end
    return { apps = apps, measured = { "latency" } }
  end,
  periodic = 60,
  hooks = { protocolDetected = check, periodicUpdate = check },
}
