-- One alert type per nDPI risk; the severity follows nDPI's score.
local defs = {}
for _, name in ipairs(floe.risk_names()) do
  local risk = floe.risk_info(name)
  local severity = risk.score >= 250 and "error" or risk.score >= 100 and "warning" or "notice"
  defs[#defs + 1] = { key = name, title = risk.title, severity = severity, score = risk.score,
                      entity = "flow", description = "nDPI flow risk: " .. risk.title }
end
return defs
