"""CSMS uplink: proxy and group modes, store-and-forward, local authorization, upstream TLS."""
