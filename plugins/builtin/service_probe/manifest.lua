return {
  title = "Service probes",
  description = "Probes services every minute, off floe's loop: a TCP connect, a TLS handshake "
             .. "with the certificate's verdict and days left, or a MySQL server's greeting. "
             .. "Charts connect time and availability, and alerts when a service is down or "
             .. "its certificate expires within cert_days.",
  author = "floe",
  version = "1.0",
}
