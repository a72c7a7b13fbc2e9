"""evsite-sign: make signing keys and sign, verify and inspect update bundles (off the device)."""
