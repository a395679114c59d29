-- Every risk the flow carries becomes a status (and, once per flow, an
-- alert). Risks can appear after the flow's first record (a later sample,
-- a later export), so the check also looks again periodically and at the
-- end. Only flows with a risk reach Lua.
local function ignored(conf, risk)
  for _, r in ipairs(conf.ignore) do
    if r == risk then return true end
  end
  return false
end

local function check(flow, conf)
  for _, risk in ipairs(flow:risks()) do
    if not flow:hasStatus(risk) and not ignored(conf, risk) then
      flow:setStatus(risk, { info = { risk = risk } })
    end
  end
end

return {
  title = "nDPI flow risks",
  description = "Sets a status named after each nDPI risk the flow carries.",
  config = {
    ignore = { type = "list", of = "string", default = {},
               description = "risk names not to flag (see floe.risk_names())" },
  },
  filter = { risks = true },
  periodic = 60,
  hooks = { protocolDetected = check, periodicUpdate = check, flowEnd = check },
}
