local function points_for(ip)
  local out = {}
  for _, p in ipairs(test.ts()) do
    if p.schema == "syn_received:syn" and p.tags.host == ip then out[#out + 1] = p end
  end
  return out
end

return {
  syns_towards_a_local_host_are_counted_per_minute = function()
    test.flow { client = "198.51.100.1", server = "10.0.0.9", server_port = 443, tcp_flags = 0x02 }
    test.advance(60) -- the first minute sets the baseline
    for i = 1, 5 do
      test.flow { client = "198.51.100.1", client_port = 50000 + i, server = "10.0.0.9",
                  server_port = 443, tcp_flags = 0x02 }
    end
    test.advance(60)
    local pts = points_for("10.0.0.9")
    test.eq(#pts, 1, "points")
    test.eq(pts[1].values.syns, 5, "SYNs in the second minute")
    test.advance(60)
    pts = points_for("10.0.0.9")
    test.eq(pts[#pts].values.syns, 0, "SYNs in a quiet minute")
  end,

  answers_and_remote_hosts_are_not = function()
    -- the local host is the client here: it sent the SYN, it did not receive one
    test.flow { client = "10.0.0.8", server = "198.51.100.2", server_port = 443, tcp_flags = 0x02 }
    test.advance(120)
    local pts = points_for("10.0.0.8")
    test.eq(#pts, 1, "points")
    test.eq(pts[1].values.syns, 0, "SYNs received by a client")
    test.eq(#points_for("198.51.100.2"), 0, "points for a remote host")
  end,
}
