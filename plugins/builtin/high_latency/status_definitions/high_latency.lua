return {
  title = "High latency",
  score = 30,
  description = "The flow's round trip (client plus server network latency) is over the "
             .. "threshold for its application.",
}
