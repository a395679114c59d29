return {
  title = "HTTP on a non-standard port",
  score = 50,
  alert = "http_nonstandard_port",
  description = "HTTP (by nDPI) to a server port outside the check's list of HTTP ports.",
}
