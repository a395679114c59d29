-- HTTP off its ports is flagged (status, score, flow alert); HTTP on 80 or
-- 8080 and other applications on odd ports are not; the list is a setting.
return {
  http_on_8081_is_flagged = function()
    local f = test.flow { client = "10.0.0.1", server = "192.0.2.9", server_port = 8081, app = "HTTP" }
    test.expect_status(f, "http_nonstandard_port")
    test.expect_alert { type = "http_nonstandard_port", entity = "flow", severity = "warning" }
  end,

  http_on_its_ports_is_not = function()
    local a = test.flow { client = "10.0.0.2", server = "192.0.2.9", server_port = 80, app = "HTTP" }
    local b = test.flow { client = "10.0.0.3", server = "192.0.2.9", server_port = 8080, app = "HTTP" }
    local c = test.flow { client = "10.0.0.4", server = "192.0.2.9", server_port = 8081, app = "TLS" }
    test.expect_no_status(a, "http_nonstandard_port")
    test.expect_no_status(b, "http_nonstandard_port")
    test.expect_no_status(c, "http_nonstandard_port")
    test.expect_no_alert { type = "http_nonstandard_port" }
  end,

  the_ports_are_a_setting = function()
    test.configure("http_port", { ports = { 80, 8080, 8081 } })
    local f = test.flow { client = "10.0.0.5", server = "192.0.2.9", server_port = 8081, app = "HTTP" }
    test.expect_no_status(f, "http_nonstandard_port")
    local g = test.flow { client = "10.0.0.6", server = "192.0.2.9", server_port = 8080, app = "HTTP" }
    test.expect_no_status(g, "http_nonstandard_port")
  end,
}
