-- The first minute only sets the baseline; then each minute is judged on
-- its own retransmissions.
local function minute(retr, packets)
  test.flow { client = "10.0.0.1", server = "192.0.2.9", server_port = 443,
              packets = packets, retransmissions = retr }
  test.advance(60)
end

return {
  over_the_count_engages_and_recovery_releases = function()
    minute(0, 10)
    minute(150, 5000)
    test.expect_alert { type = "tcp_retransmissions", kind = "engage", entity = "host", value = "10.0.0.1" }
    minute(0, 5000)
    test.expect_alert { type = "tcp_retransmissions", kind = "release", value = "10.0.0.1" }
  end,

  over_the_ratio_engages = function()
    minute(0, 10)
    minute(30, 300) -- 10% of 300 packets, under the count of 100
    test.expect_alert { type = "tcp_retransmissions", kind = "engage" }
  end,

  few_packets_or_few_retransmissions_do_not = function()
    minute(0, 10)
    minute(20, 50)   -- 40%, but under min_packets
    minute(10, 5000) -- 0.2%
    test.expect_no_alert { type = "tcp_retransmissions" }
  end,

  remote_hosts_are_not_checked = function()
    test.flow { client = "198.51.100.1", server = "192.0.2.9", packets = 10 }
    test.advance(60)
    test.flow { client = "198.51.100.1", server = "192.0.2.9", packets = 5000, retransmissions = 500 }
    test.advance(60)
    test.expect_no_alert { type = "tcp_retransmissions" }
  end,
}
