return {
  title = "High latency",
  description = "Flags flows of latency-sensitive applications (RDP by default) whose network "
             .. "round trip, as the exporter measured it, is over a threshold.",
  author = "floe",
  version = "1.0",
}
