-- tests/blacklist.txt lists 203.0.113.66, 198.51.100.0/24 and 2001:db8:bad::/48.
local function use_test_list()
  test.configure("blacklist", { file = test.dir .. "/tests/blacklist.txt" })
end

return {
  a_listed_server_is_flagged = function()
    use_test_list()
    local f = test.flow { client = "10.0.0.1", server = "203.0.113.66", server_port = 443 }
    test.expect_status(f, "blacklisted")
    test.expect_alert { type = "blacklisted", entity = "flow", severity = "error" }
  end,

  a_client_in_a_listed_network_is_flagged = function()
    use_test_list()
    local f = test.flow { client = "198.51.100.77", server = "10.0.0.1", server_port = 22 }
    test.expect_status(f, "blacklisted")
    local v6 = test.flow { client = "2001:db8:bad:1::5", server = "2001:db8::1", server_port = 443 }
    test.expect_status(v6, "blacklisted")
  end,

  others_are_not = function()
    use_test_list()
    local f = test.flow { client = "10.0.0.1", server = "203.0.113.67", server_port = 443 }
    test.expect_no_status(f, "blacklisted")
    test.expect_no_alert {}
  end,
}
