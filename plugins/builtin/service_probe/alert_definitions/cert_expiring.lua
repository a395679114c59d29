return {
  title = "Certificate expires soon",
  severity = "warning",
  score = 50,
  entity = "system",
  description = "The certificate a TLS service presents expires within cert_days, or has "
             .. "expired (then the alert is an error). Released once it is renewed.",
}
