-- 10.0.0.0/8 (a default local network) is watched at 80 kbit/s: 600 kB a
-- minute into it is exactly that.
local function minute(bytes)
  if bytes > 0 then
    test.flow { client = "198.51.100.1", server = "10.1.2.3", server_port = 443, bytes = bytes }
  end
  test.advance(60)
end

return {
  a_drop_engages_and_recovery_releases = function()
    test.configure("drop", { networks = { ["10.0.0.0/8"] = 80000 } })
    minute(1000000)
    minute(1000000)
    test.expect_no_alert { type = "traffic_drop" }
    minute(1000)
    test.expect_alert { type = "traffic_drop", kind = "engage", entity = "network", value = "10.0.0.0/8" }
    minute(610000) -- back above the minimum, but not by the hysteresis
    test.expect_no_alert { type = "traffic_drop", kind = "release" }
    minute(1000000)
    test.expect_alert { type = "traffic_drop", kind = "release", value = "10.0.0.0/8" }
  end,

  unconfigured_networks_are_left_alone = function()
    minute(1000000)
    minute(0)
    minute(0)
    test.expect_no_alert { type = "traffic_drop" }
  end,
}
