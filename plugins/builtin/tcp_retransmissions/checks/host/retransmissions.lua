-- Once a minute per local host: retransmissions it sent in that minute,
-- as a count and as a share of its packets. The alert stays engaged while
-- the host is over, and is released the first minute it is not.
return {
  title = "Retransmissions per minute",
  description = "Engages tcp_retransmissions while a host's retransmissions in the last "
             .. "minute are over max_retransmissions, or over max_ratio of its packets "
             .. "(with at least min_packets sent).",
  hosts = "local",
  config = {
    max_retransmissions = { type = "integer", default = 100, min = 1,
                            description = "retransmitted packets per minute" },
    max_ratio = { type = "number", default = 0.05, min = 0, max = 1,
                  description = "retransmitted packets over packets sent, per minute" },
    min_packets = { type = "integer", default = 200, min = 1,
                    description = "packets a host must send in the minute for the ratio to count" },
  },
  hooks = {
    min = function(host, conf)
      local retr = host:delta("retransmissions_sent")
      local pkts = host:delta("packets_sent")
      if not retr or not pkts then return end -- its first minute
      local ratio = pkts > 0 and retr / pkts or 0
      if retr >= conf.max_retransmissions or (pkts >= conf.min_packets and ratio >= conf.max_ratio) then
        alerts.trigger(host, "tcp_retransmissions",
                       { info = { retransmissions = retr, packets = pkts, ratio = ratio } })
      else
        alerts.release(host, "tcp_retransmissions")
      end
    end,
  },
}
