-- HTTP on a server port other than the configured ones. The filter does
-- the work in C: only HTTP flows to a port outside the list reach Lua.
return {
  title = "HTTP on a non-standard port",
  description = "Sets http_nonstandard_port on HTTP flows whose server port is not one of "
             .. "the configured HTTP ports.",
  config = {
    ports = { type = "list", of = "integer", default = { 80, 8080 }, min = 0, max = 65535,
              description = "server ports where HTTP is expected" },
  },
  filter = function(conf)
    return { l4 = { "tcp" }, apps = { "HTTP" }, exclude_server_ports = conf.ports }
  end,
  hooks = {
    protocolDetected = function(flow, conf)
      flow:setStatus("http_nonstandard_port", {
        info = { port = flow:server_port(), app = flow:app() },
      })
    end,
  },
}
