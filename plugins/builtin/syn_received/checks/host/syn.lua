-- Once a minute per local host: the TCP flows opened towards it in that
-- minute (a client's SYN), counted by the tables, so no Lua runs per flow.
return {
  title = "SYNs received per minute",
  description = "Writes syn_received:syn for every local host each minute.",
  hosts = "local",
  hooks = {
    min = function(host, conf)
      local syns = host:delta("syns_rcvd")
      if syns then
        ts.append("syn", { host = host:ip() }, { syns = syns })
      end
    end,
  },
}
