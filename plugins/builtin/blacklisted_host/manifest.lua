return {
  title = "Blacklisted hosts",
  description = "Flags traffic to or from the addresses and networks in a list file, "
             .. "re-read whenever the file changes.",
  author = "floe",
  version = "1.0",
}
