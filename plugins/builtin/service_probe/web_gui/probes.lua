-- The services page: every configured service with its last probe, and a
-- chart of its connect time and availability.
local conf = checks.config("probe")
local results = probe.results()
local now = floe.now()

local function ago(at)
  local s = math.floor(now - at + 0.5)
  if s < 90 then return s .. " s ago" end
  if s < 5400 then return math.floor(s / 60 + 0.5) .. " min ago" end
  return math.floor(s / 3600 + 0.5) .. " h ago"
end

local function cert_cell(r)
  local c = r and r.cert
  if not c then return nil end
  local text = c.status .. ", " .. c.days_left .. " days left"
  if c.days_left < 0 then return { text = c.status .. ", expired " .. -c.days_left .. " days ago", tone = "bad" } end
  local tone = c.status ~= "valid" and "warn" or c.days_left < conf.cert_days and "warn" or "ok"
  return { text = text, tone = tone }
end

local function detail(r)
  if not r then return nil end
  if not r.ok then return { text = r.error, tone = "bad" } end
  if r.server_version then return "MySQL " .. r.server_version end
  if r.cert then return r.cert.subject end
  return r.address
end

local rows, up, down = {}, 0, 0
for _, s in ipairs(conf.services) do
  local r = results[s.name]
  local status = { text = "waiting for the first probe", tone = "muted" }
  if r then
    status = { text = r.ok and "up" or "down", tone = r.ok and "ok" or "bad" }
    if r.ok then up = up + 1 else down = down + 1 end
  end
  rows[#rows + 1] = {
    s.name, s.kind, s.host .. ":" .. s.port, status,
    r and r.ok and string.format("%.1f ms", r.rtt_ms) or nil,
    cert_cell(r), detail(r), r and ago(r.at) or nil,
  }
end

local blocks = {}
if #conf.services == 0 then
  blocks[1] = { text = "No services are configured. Add them to the services setting of "
                    .. "service_probe's probe check, on the Plugins page or in the config file." }
else
  blocks[1] = { text = string.format("%d services: %d up, %d down, %d not probed yet.",
                                     #conf.services, up, down, #conf.services - up - down),
                tone = down > 0 and "bad" or up > 0 and "ok" or "muted" }
end
blocks[#blocks + 1] = {
  title = "Last probes",
  table = {
    columns = { "Service", "Kind", "Address", "Status", { title = "Connect", numeric = true },
                "Certificate", "Detail", "Checked" },
    rows = rows,
    empty = "no services",
  },
}
for _, s in ipairs(conf.services) do
  blocks[#blocks + 1] = {
    title = s.name .. ": connect time (ms) and up",
    chart = { schema = "service_probe:probe", tags = { service = s.name }, unit = "ms" },
  }
end
return { title = "Service probes", blocks = blocks }
