-- syn_received:syn, one series per local host, charted on the host page.
return {
  title = "TCP SYNs received",
  step = 60,
  tags = { "host" },
  metrics = { { name = "syns", type = "gauge", unit = "count", title = "SYNs per minute" } },
}
