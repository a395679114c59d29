-- The list file holds one address or network per line (# starts a
-- comment). The filter matches flows with either end in it, in C; floe
-- re-reads the file when it changes.
return {
  title = "Blacklisted client or server",
  description = "Sets blacklisted on flows whose client or server is in the list file.",
  config = {
    file = { type = "string", default = "/etc/floe/blacklist.txt",
             description = "the list: an address or ADDR/BITS per line" },
  },
  filter = function(conf) return { hosts_file = conf.file } end,
  hooks = {
    protocolDetected = function(flow, conf)
      local side = floe.listed(conf.file, flow:client()) and "client" or "server"
      flow:setStatus("blacklisted", {
        info = { side = side, host = side == "client" and flow:client() or flow:server(),
                 list = conf.file },
      })
    end,
  },
}
