"""Names of the files the running controller keeps in its data directory."""

# Settings saved from the web UI (the device's root is read-only); they lie over --config.
SETTINGS_FILE = "settings.toml"
