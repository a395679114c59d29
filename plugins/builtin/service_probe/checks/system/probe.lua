-- Once a minute: reads the results of the probes started the minute
-- before, writes them as timeseries, engages or releases the alerts, and
-- starts the next round. probe.start only queues a probe (it runs on a
-- worker thread), so this hook never waits on a network.

local KINDS = { tcp = true, tls = true, mysql = true }
local FIELDS = { name = true, kind = true, host = true, port = true, server_name = true,
                 timeout_ms = true, ca_file = true }
local STALE_S = 180 -- no result for this long: the probe itself is stuck

-- Each service: {name =, kind =, host =, port =, server_name =?, timeout_ms =?, ca_file =?}.
local function check_service(i, s, names)
  if type(s) ~= "table" then
    return "item " .. i .. " must be a table {name =, kind =, host =, port =}"
  end
  for k in pairs(s) do
    if not FIELDS[k] then return "item " .. i .. ": unknown key '" .. tostring(k) .. "'" end
  end
  if type(s.name) ~= "string" or #s.name > 48 or not s.name:match("^[%w_.%-]+$") then
    return "item " .. i .. ": name must be 1 to 48 letters, digits, '_', '.' or '-'"
  end
  local what = "item " .. i .. " (" .. s.name .. ")"
  if names[s.name] then return what .. ": the name is used twice" end
  names[s.name] = true
  if not KINDS[s.kind] then return what .. ": kind must be tcp, tls or mysql" end
  if type(s.host) ~= "string" or s.host == "" then return what .. ": host must be a name or an address" end
  if math.type(s.port) ~= "integer" or s.port < 1 or s.port > 65535 then
    return what .. ": port must be an integer from 1 to 65535"
  end
  if s.server_name ~= nil and type(s.server_name) ~= "string" then
    return what .. ": server_name must be a string"
  end
  if s.ca_file ~= nil and type(s.ca_file) ~= "string" then return what .. ": ca_file must be a path" end
  if s.timeout_ms ~= nil and (math.type(s.timeout_ms) ~= "integer" or s.timeout_ms < 100
                              or s.timeout_ms > 30000) then
    return what .. ": timeout_ms must be an integer from 100 to 30000"
  end
end

local function check_services(list)
  local names = {}
  for i, s in ipairs(list) do
    local err = check_service(i, s, names)
    if err then return err end
  end
end

local function subject(name)
  return { entity = "system", value = "service:" .. name }
end

local function judge_cert(s, r, conf)
  local c = r.cert
  if not c then return end -- a TLS service that was down: nothing new about its certificate
  if c.days_left < conf.cert_days then
    alerts.trigger(subject(s.name), "cert_expiring", {
      severity = c.days_left < 0 and "error" or nil,
      info = { service = s.name, days_left = c.days_left, not_after = c.not_after,
               status = c.status, subject = c.subject, issuer = c.issuer },
    })
  else
    alerts.release(subject(s.name), "cert_expiring")
  end
end

-- A result newer than the last one used: a point, and the alerts.
local function judge(s, r, conf)
  ts.append("probe", { service = s.name }, { rtt_ms = r.ok and r.rtt_ms or nil, up = r.ok and 1 or 0 },
            r.at)
  if r.ok then
    alerts.release(subject(s.name), "service_down")
  else
    alerts.trigger(subject(s.name), "service_down", {
      info = { service = s.name, kind = s.kind, host = s.host, port = s.port, error = r.error },
    })
  end
  if s.kind == "tls" then judge_cert(s, r, conf) end
end

local function stuck(s, since, now)
  ts.append("probe", { service = s.name }, { up = 0 })
  alerts.trigger(subject(s.name), "service_down", {
    info = { service = s.name, kind = s.kind, host = s.host, port = s.port,
             error = string.format("no probe result for %d s", now - since) },
  })
end

-- A service taken out of the config: its probe and its alerts go.
local function drop(name)
  probe.forget(name)
  alerts.release(subject(name), "service_down")
  alerts.release(subject(name), "cert_expiring")
  state.seen[name], state.since[name] = nil, nil
end

return {
  title = "Service probes",
  description = "Each minute, judges the last probe of every service in services (down: "
             .. "service_down; a certificate that expires within cert_days: cert_expiring), "
             .. "writes service_probe:probe, and starts the next probes.",
  config = {
    services = {
      type = "list", default = {}, validate = check_services,
      description = "the services to probe: { name =, kind = \"tcp\" | \"tls\" | \"mysql\", "
                 .. "host =, port =, server_name =, timeout_ms =, ca_file = }",
    },
    cert_days = { type = "integer", default = 14, min = 0, max = 3650,
                  description = "alert when a certificate expires within this many days" },
    timeout_ms = { type = "integer", default = 5000, min = 100, max = 30000,
                   description = "a probe's timeout, unless the service gives its own" },
  },
  hooks = {
    min = function(system, conf)
      local now = floe.now()
      local results = probe.results()
      state.seen = state.seen or {}   -- service -> `at` of the last result judged
      state.since = state.since or {} -- service -> when it was first probed
      local wanted = {}
      for _, s in ipairs(conf.services) do
        wanted[s.name] = true
        state.since[s.name] = state.since[s.name] or now
        local r = results[s.name]
        local last = state.seen[s.name]
        if r and r.at > (last or 0) then
          state.seen[s.name] = r.at
          judge(s, r, conf)
        elseif now - math.max(last or 0, state.since[s.name]) > STALE_S then
          stuck(s, math.max(last or 0, state.since[s.name]), now)
        end
        probe.start(s.name, { kind = s.kind, host = s.host, port = s.port,
                              server_name = s.server_name, ca_file = s.ca_file,
                              timeout_ms = s.timeout_ms or conf.timeout_ms })
      end
      for name in pairs(state.since) do
        if not wanted[name] then drop(name) end
      end
    end,
  },
}
