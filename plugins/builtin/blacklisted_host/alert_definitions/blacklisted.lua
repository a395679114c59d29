return {
  title = "Traffic with a blacklisted host",
  severity = "error",
  score = 100,
  entity = "flow",
  description = "A flow's client or server is in the blacklist file.",
}
