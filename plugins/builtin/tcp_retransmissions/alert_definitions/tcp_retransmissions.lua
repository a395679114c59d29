return {
  title = "Too many TCP retransmissions",
  severity = "warning",
  score = 40,
  entity = "host",
  description = "The host retransmitted more TCP packets in the last minute than the check "
             .. "allows, by count or by share of the packets it sent: loss on its path, or "
             .. "a failing link or NIC.",
}
