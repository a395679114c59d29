return {
  title = "Flow risks",
  description = "A status and an alert for each nDPI flow risk: found by dissecting sFlow "
             .. "samples, or sent by exporters as a risk bitmap (nProbe's L7_PROTO_RISK).",
  author = "floe",
  version = "1.0",
}
