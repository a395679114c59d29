return {
  title = "SYNs received",
  description = "Charts how many TCP connections each local host is asked to open, per "
             .. "minute: a SYN flood or a scan shows as a spike.",
  author = "floe",
  version = "1.0",
}
