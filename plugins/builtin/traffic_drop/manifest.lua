return {
  title = "Traffic drop",
  description = "Alerts when the traffic towards a configured local network falls below a "
             .. "level, and releases the alert when it recovers.",
  author = "floe",
  version = "1.0",
}
