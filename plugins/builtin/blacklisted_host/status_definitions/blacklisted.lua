return {
  title = "Blacklisted host",
  score = 100,
  alert = "blacklisted",
  description = "The flow's client or server is in the blacklist file.",
}
