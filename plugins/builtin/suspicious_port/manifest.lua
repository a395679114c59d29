return {
  title = "Suspicious port",
  description = "Flags HTTP, as nDPI labels it, on a server port other than the usual ones.",
  author = "floe",
  version = "1.0",
}
