return {
  an_expired_certificate_is_flagged = function()
    local f = test.flow { server_port = 443, app = "TLS", risks = { "tls_certificate_expired" } }
    test.expect_status(f, "tls_certificate_expired")
    test.expect_alert { type = "tls_certificate_expired", entity = "flow", severity = "warning" }
  end,

  every_risk_of_a_flow_is_a_status = function()
    local f = test.flow { server_port = 8443, app = "TLS",
                          risks = { "tls_selfsigned_certificate", "known_protocol_on_non_standard_port" } }
    test.expect_status(f, "tls_selfsigned_certificate")
    test.expect_status(f, "known_protocol_on_non_standard_port")
  end,

  flows_without_risks_are_not = function()
    local f = test.flow { server_port = 443, app = "TLS" }
    test.eq(#test.statuses(f), 0, "statuses")
    test.expect_no_alert {}
  end,

  ignored_risks_are_not = function()
    test.configure("risks", { ignore = { "tls_certificate_mismatch" } })
    local f = test.flow { server_port = 443, app = "TLS", risks = { "tls_certificate_mismatch" } }
    test.expect_no_status(f, "tls_certificate_mismatch")
  end,

  a_risk_found_later_is_flagged_then = function()
    local f = test.flow { client = "10.0.0.7", server_port = 443, app = "TLS" }
    test.flow { client = "10.0.0.7", server_port = 443, app = "TLS", risks = { "tls_weak_cipher" } }
    test.advance(61)
    test.expect_status(f, "tls_weak_cipher")
  end,
}
