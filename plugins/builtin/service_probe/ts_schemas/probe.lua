-- service_probe:probe, one series per service: the TCP connect time of each
-- probe, and whether the service was up (1) or down (0).
return {
  title = "Service probes",
  step = 60,
  tags = { "service" },
  metrics = {
    { name = "rtt_ms", type = "gauge", unit = "ms", title = "Connect time" },
    { name = "up", type = "gauge", unit = "count", title = "Up (1) or down (0)" },
  },
}
