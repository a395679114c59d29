-- Offline no probe runs: test.probes() shows what the check asked for, and
-- test.probe_result feeds a result as if the probe had run. The first
-- minute tick starts the probes; the next one judges their results.
local DB = { name = "db", kind = "mysql", host = "192.0.2.10", port = 3306 }
local WEB = { name = "web", kind = "tls", host = "192.0.2.20", port = 443,
              server_name = "www.example.org" }

local function configure(services, extra)
  local conf = extra or {}
  conf.services = services
  test.configure("probe", conf)
end

local function points(name)
  local out = {}
  for _, p in ipairs(test.ts()) do
    if p.schema == "service_probe:probe" and p.tags.service == name then out[#out + 1] = p end
  end
  return out
end

local function count(pattern)
  local n = 0
  for _, a in ipairs(test.alerts()) do
    local ok = true
    for k, v in pairs(pattern) do ok = ok and a[k] == v end
    if ok then n = n + 1 end
  end
  return n
end

local function refused(services, message)
  local ok, err = pcall(test.configure, "probe", { services = services })
  test.eq(ok, false, "configuring " .. message)
  assert(err:find(message, 1, true), "expected '" .. message .. "' in: " .. err)
end

return {
  probes_start_every_minute_with_each_service_s_spec = function()
    configure({ DB, WEB }, { timeout_ms = 2000 })
    test.advance(60)
    local p = test.probes()
    test.eq(p.db.kind, "mysql", "db's kind")
    test.eq(p.db.host, "192.0.2.10", "db's host")
    test.eq(p.db.port, 3306, "db's port")
    test.eq(p.db.timeout_ms, 2000, "db's timeout")
    test.eq(p.web.kind, "tls", "web's kind")
    test.eq(p.web.server_name, "www.example.org", "web's server name")
    test.advance(60)
    test.eq(test.probes().db.starts, 2, "probes of db after two minutes")
  end,

  a_service_that_is_down_engages_and_its_recovery_releases = function()
    configure({ DB })
    test.advance(60)
    test.probe_result("db", { ok = false, error = "connecting to port 3306: Connection refused" })
    test.advance(60)
    test.expect_alert { type = "service_down", kind = "engage", entity = "system",
                        value = "service:db", severity = "error" }
    local pts = points("db")
    test.eq(#pts, 1, "points")
    test.eq(pts[1].values.up, 0, "up while down")
    test.probe_result("db", { ok = true, rtt_ms = 1.5, server_version = "8.0.36" })
    test.advance(60)
    test.expect_alert { type = "service_down", kind = "release", value = "service:db" }
    pts = points("db")
    test.eq(#pts, 2, "points")
    test.eq(pts[2].values.up, 1, "up once it answers")
    test.eq(pts[2].values.rtt_ms, 1.5, "connect time")
  end,

  a_result_is_judged_once = function()
    configure({ DB })
    test.advance(60)
    test.probe_result("db", { ok = false })
    test.advance(180)
    test.eq(#points("db"), 1, "points from one result")
    test.eq(count { type = "service_probe.service_down", kind = "engage" }, 1, "engagements")
  end,

  a_certificate_within_cert_days_engages_and_a_renewed_one_releases = function()
    configure({ WEB }, { cert_days = 30 })
    test.advance(60)
    test.probe_result("web", { ok = true, cert = { status = "valid", days_left = 20 } })
    test.advance(60)
    test.expect_alert { type = "cert_expiring", kind = "engage", severity = "warning",
                        value = "service:web" }
    test.probe_result("web", { ok = true, cert = { status = "expired", days_left = -3 } })
    test.advance(60)
    test.expect_alert { type = "cert_expiring", kind = "engage", severity = "error" }
    test.probe_result("web", { ok = true, cert = { status = "valid", days_left = 300 } })
    test.advance(60)
    test.expect_alert { type = "cert_expiring", kind = "release", value = "service:web" }
    test.expect_no_alert { type = "service_down" }
  end,

  a_certificate_further_off_does_not = function()
    configure({ WEB }) -- cert_days 14
    test.advance(60)
    test.probe_result("web", { ok = true, cert = { status = "self-signed", days_left = 20 } })
    test.advance(60)
    test.expect_no_alert { type = "cert_expiring" }
    test.eq(#points("web"), 1, "points")
  end,

  a_probe_that_never_answers_is_down_after_three_minutes = function()
    configure({ DB })
    test.advance(180) -- three ticks, the probes started, no result
    test.expect_no_alert { type = "service_down" }
    test.advance(120)
    test.expect_alert { type = "service_down", kind = "engage", value = "service:db" }
    local a = test.alerts()[1]
    assert(a.info:find("no probe result for", 1, true), a.info)
  end,

  a_service_taken_out_of_the_config_is_forgotten = function()
    configure({ DB, WEB })
    test.advance(60)
    test.probe_result("db", { ok = false })
    test.advance(60)
    test.expect_alert { type = "service_down", kind = "engage", value = "service:db" }
    configure({ WEB })
    test.advance(60)
    test.expect_alert { type = "service_down", kind = "release", value = "service:db" }
    test.eq(test.probes().db, nil, "db's probe")
    test.eq(test.probes().web.starts, 3, "web's probes")
  end,

  bad_services_are_refused_naming_the_item = function()
    refused({ { name = "x", kind = "http", host = "h", port = 80 } }, "kind must be tcp, tls or mysql")
    refused({ { name = "x", kind = "tcp", host = "h", port = 0 } }, "item 1 (x): port must be")
    refused({ DB, { name = "db", kind = "tcp", host = "h", port = 1 } }, "item 2 (db): the name is used twice")
    refused({ { name = "x", kind = "tcp", host = "h", port = 1, colour = "red" } }, "unknown key 'colour'")
    refused({ { name = "a b", kind = "tcp", host = "h", port = 1 } }, "item 1: name must be")
    refused({ "db" }, "item 1 must be a table")
    test.configure("probe", { services = { DB } }) -- and a good one is taken
  end,
}
