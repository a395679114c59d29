-- floe configuration. Every key is optional; the values shown are the
-- built-in defaults. The file is Lua, run without io, os or require.

-- UDP addresses to receive exports on; every port accepts v5, v9, IPFIX and sFlow
listen = { "0.0.0.0:2055", "[::]:2055", "0.0.0.0:4739", "[::]:4739", "0.0.0.0:6343", "[::]:6343" }

-- HTTP address for the API and web pages; "" turns the server off
web = "127.0.0.1:3000"

-- where floe keeps its state: alerts, timeseries, the admin password
data_dir = "./floe-data"

-- extra plugin directories, loaded after the built-in plugins
plugins = {}

log = {
    -- "error", "warn", "info" or "debug"
    level = "info",
    -- "stderr" or "syslog"
    target = "stderr",
    -- messages per minute from one place in the code, for logs a packet can trigger
    burst = 10,
}

socket = {
    -- socket receive buffer per UDP socket, bytes; past net.core.rmem_max only as root
    rcvbuf = 33554432,
}

exporters = {
    -- exporters (address + observation domain) tracked; the least recently seen is evicted
    max = 4096,
}

templates = {
    -- seconds a v9/IPFIX template lives without being refreshed
    timeout = 1800,
    -- templates kept per exporter; the least recently refreshed is evicted
    max_per_exporter = 1024,
    -- templates kept over all exporters
    max = 65536,
}
