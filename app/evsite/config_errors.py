"""The one error type for a bad setting: it names the key and says why."""


class ConfigError(ValueError):
    """A setting is invalid; `key` is its dotted name, the message says why."""

    def __init__(self, key: str, why: str, source: str = "") -> None:
        self.key = key
        self.why = why
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {why}")
