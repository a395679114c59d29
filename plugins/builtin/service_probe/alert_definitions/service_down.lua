return {
  title = "Service down",
  severity = "error",
  score = 100,
  entity = "system",
  description = "A probed service did not answer as it should: the connection was refused or "
             .. "timed out, the TLS handshake failed, or a MySQL server sent no greeting. "
             .. "Released by the first probe that succeeds.",
}
