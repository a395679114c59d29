-- One status per nDPI risk, named after it (flow_risk.tls_certificate_expired),
-- scored as nDPI scores it, each raising the alert of the same name.
local defs = {}
for _, name in ipairs(floe.risk_names()) do
  local risk = floe.risk_info(name)
  defs[#defs + 1] = { key = name, title = risk.title, score = risk.score, alert = name,
                      description = "nDPI flow risk: " .. risk.title }
end
return defs
