return {
  title = "TCP retransmissions",
  description = "Alerts on local hosts whose TCP retransmissions over the last minute cross "
             .. "a count or a share of the packets they sent.",
  author = "floe",
  version = "1.0",
}
