return {
  title = "Traffic towards a network dropped",
  severity = "error",
  score = 80,
  entity = "network",
  description = "The traffic into the network over the last minute is below the level set "
             .. "for it: an upstream link, a route or a service may be down.",
}
