-- Once a minute per local network: the bits per second that came into it,
-- against the level configured for it. Engaged below the level; released
-- once the traffic is back above it by the hysteresis.
return {
  title = "Traffic below a level",
  description = "Engages traffic_drop while the traffic into a configured network is below "
             .. "its minimum, releases it when it recovers.",
  config = {
    networks = { type = "map", of = "number", default = {}, min = 0,
                 description = "local network (as in local_networks) = minimum bits per second into it" },
    hysteresis = { type = "number", default = 0.1, min = 0, max = 10,
                   description = "how far above the minimum (as a fraction of it) traffic must be to release" },
  },
  hooks = {
    min = function(net, conf)
      local min = conf.networks[net:name()]
      if not min then return end
      local bytes = net:delta("bytes_in")
      if not bytes then return end -- the first minute only sets the baseline
      local bps = bytes * 8 / 60
      alerts.threshold(net, "traffic_drop", bps, {
        threshold = min, above = false, hysteresis = min * conf.hysteresis,
        info = { bps = bps, min_bps = min },
      })
    end,
  },
}
