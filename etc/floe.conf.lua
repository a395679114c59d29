-- floe configuration. Every key is optional; the values shown are the
-- built-in defaults. The file is Lua, run without io, os or require.

-- UDP addresses to receive exports on; every port accepts v5, v9, IPFIX and sFlow
listen = { "0.0.0.0:2055", "[::]:2055", "0.0.0.0:4739", "[::]:4739", "0.0.0.0:6343", "[::]:6343" }

-- TCP addresses to receive IPFIX on (RFC 7011 over TCP); none by default
listen_tcp = {}

-- HTTP address for the API and web pages; "" turns the server off
web = "127.0.0.1:3000"

-- where floe keeps its state: alerts, timeseries, the admin password
data_dir = "./floe-data"

-- extra plugin directories, loaded after the built-in plugins
plugins = {}

-- the built-in plugins' directory; "" finds the installed ones; "none" loads none
builtin_plugins = ""

-- per-check settings: { ["plugin.check"] = { enabled = false, key = value, ... } }
checks = {}

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

tcp = {
    -- IPFIX-over-TCP connections at once (64 KiB of buffer each at most); more are refused
    max_connections = 256,
    -- seconds a TCP exporter may send nothing before floe closes its connection
    idle_timeout = 3600,
    -- seconds a TCP exporter may take to finish a message it began
    stall_timeout = 30,
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

tables = {
    -- keep flow, host, interface and network tables; false decodes and counts only
    enabled = true,
    -- floe run backs the flow and host tables' memory, nDPI's states and heap for nDPI's buffers to their bound at start, so that their first fill does not stall ingest; false: as they fill
    prefault = true,
}

flows = {
    -- flows kept; at the bound the least recently updated flow is evicted
    max = 1000000,
    -- seconds without a record after which a flow ends
    idle_timeout = 120,
}

hosts = {
    -- hosts kept; at the bound the least recently seen host without flows is evicted
    max = 200000,
}

interfaces = {
    -- exporter interfaces kept; the least recently updated is evicted
    max = 65536,
}

-- networks whose hosts are local (they get timeseries); default RFC 1918 and ULA
local_networks = { "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7" }

dpi = {
    -- label flows with nDPI (exporter ids, sampled packets, port and IP-list guesses)
    enabled = true,
    -- flows dissected at once from sFlow sampled headers (about 700 bytes each)
    max_states = 65536,
    -- sampled packets per flow before nDPI gives up and guesses
    packets = 8,
    -- sampled packets dissected per second at most; past it flows keep their guess
    max_rate = 50000,
}

lua = {
    -- memory cap per plugin, MiB
    memory = 64,
    -- Lua instructions a check may run per call
    instructions = 1000000,
    -- failed calls in a row after which a check is disabled
    failures = 5,
    -- percent of the loop's time Lua may use; past it runs are skipped and counted
    cpu_share = 30,
}

-- admin password for the web UI; "": FLOE_ADMIN_PASSWORD, else the stored or a random one
web_password = ""

-- API token for Authorization: Bearer (16+ chars); "": FLOE_API_TOKEN, else none
web_token = ""

-- PEM certificate file; with web_tls_key the web UI is served over HTTPS
web_tls_cert = ""

-- PEM private key file for web_tls_cert
web_tls_key = ""

-- seconds a web login lasts
web_session_ttl = 43200

alerts = {
    -- keep alerts in <data_dir>/alerts.db (SQLite); false: alerts are only counted
    enabled = true,
    -- alerts waiting for the writer; past it they are counted as dropped
    queue_max = 65536,
    -- seconds within which a one-shot alert of the same type and entity is counted, not stored
    repeat_window = 300,
    -- days past alerts are kept; 0 keeps them
    max_age = 30,
    -- past alerts kept at most, the oldest pruned first; 0: no bound
    max_rows = 10000000,
    -- rules { type =, plugin =, hosts = {...}, apps = {...}, exporters = {...} }: matching alerts are counted, not stored
    exclusions = {},
    -- notifications: { { type = "webhook", url = ... }, { type = "syslog", address = ... }, { type = "command", command = ... } } (README)
    endpoints = {},
}

timeseries = {
    -- write timeseries to RRD files in <data_dir>/timeseries and serve charts
    enabled = true,
    -- what a series keeps: RESOLUTION:SPAN items (units s m h d w y), e.g. "1m:1d,1h:1y"
    retention = "1m:1d,5m:1w,1h:1y,1d:5y",
    -- the same for the per-host series (host:traffic, host:activity, host:ndpi)
    host_retention = "1m:1d,1h:1w,1d:1y",
    -- per schema: { ["iface:traffic"] = "1m:1w,1h:5y" }; wins over the two above
    retentions = {},
    -- applications per local host with a host:ndpi series: its largest ones; 0: none
    host_apps = 3,
    -- points waiting for the RRD writer; past it the oldest are dropped and counted
    queue_max = 1000000,
    -- days after which a series nobody writes any more is deleted; 0 keeps them
    cleanup_age = 30,
    -- seconds a shutdown spends writing series files; the points left are saved to timeseries/pending.journal and written after the next start; 0: no limit
    shutdown_max = 20,
}

-- send RRD updates through rrdcached: "unix:/run/rrdcached.sock"; "" writes directly
rrdcached = ""

clickhouse = {
    -- ClickHouse's HTTP interface for the flow history, "http://127.0.0.1:8123"; "": off
    url = "",
    -- the database floe creates its tables in
    database = "floe",
    -- ClickHouse user; "" sends no credentials
    user = "",
    -- its password; "": FLOE_CLICKHOUSE_PASSWORD, else none
    password = "",
    -- this floe's name in the rows ([A-Za-z0-9._-]); "": the host name
    instance = "",
    -- a cluster of remote_servers: rows go through a Distributed table over it; "": none
    cluster = "",
    -- seconds between the rows of a long flow (each with the traffic since the last)
    interval = 60,
    -- rows per INSERT at most
    batch_rows = 50000,
    -- seconds a row waits for its INSERT at most
    batch_interval = 5,
    -- rows waiting in memory; past it they are dropped and counted
    queue_max = 500000,
    -- MiB of <data_dir>/history-spool, where rows wait while ClickHouse is away
    spool_max = 1024,
    -- days of history kept (TTL, or old day partitions dropped); 0 keeps everything
    retention = 90,
    -- seconds a request to ClickHouse may take
    timeout = 10,
    -- also export alerts, to <database>.alerts
    alerts = false,
}
