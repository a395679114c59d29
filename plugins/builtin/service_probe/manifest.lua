return {
  title = "Service probes",
  description = "Probes services each minute, off floe's loop (TCP connect, TLS handshake and "
             .. "certificate, MySQL greeting); charts connect time and availability; alerts "
             .. "when a service is down or its certificate expires soon.",
  author = "floe",
  version = "1.0",
}
