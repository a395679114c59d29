return {
  title = "HTTP on a non-standard port",
  severity = "warning",
  score = 50,
  entity = "flow",
  description = "A flow carries HTTP to a server port that is not an HTTP port: a proxy, a "
             .. "tunnel, or a service hiding behind an unexpected port.",
}
