return {
  slow_rdp_is_flagged = function()
    local f = test.flow { server_port = 3389, app = "RDP", client_latency = 200, server_latency = 120 }
    test.expect_status(f, "high_latency")
  end,

  fast_rdp_and_slow_others_are_not = function()
    local fast = test.flow { client = "10.0.0.2", server_port = 3389, app = "RDP",
                             client_latency = 100, server_latency = 100 }
    local web = test.flow { client = "10.0.0.3", server_port = 443, app = "TLS",
                            client_latency = 900, server_latency = 900 }
    local unmeasured = test.flow { client = "10.0.0.4", server_port = 3389, app = "RDP" }
    test.expect_no_status(fast, "high_latency")
    test.expect_no_status(web, "high_latency")
    test.expect_no_status(unmeasured, "high_latency")
  end,

  thresholds_are_per_application = function()
    test.configure("latency", { thresholds = { RDP = 500, SSH = 50 } })
    local rdp = test.flow { server_port = 3389, app = "RDP", client_latency = 200, server_latency = 120 }
    local ssh = test.flow { client = "10.0.0.5", server_port = 22, app = "SSH",
                            client_latency = 40, server_latency = 30 }
    test.expect_no_status(rdp, "high_latency")
    test.expect_status(ssh, "high_latency")
  end,
}
