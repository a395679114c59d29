return { title = "Services", icon = "\u{25CE}", key = "probes" }
