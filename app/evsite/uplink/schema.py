"""The uplink's tables, one migration script per version; never edit a released one, append.

Passed to the store by the composition root:
`open_database(data_dir, extra={"uplink": UPLINK_MIGRATIONS})`.
"""

UPLINK_MIGRATIONS: list[str] = [
    # 1: credentials, outbox, transaction id map, CSMS local lists, authorization cache,
    #    CSMS charging profiles, small key/value state (the audit forwarding cursor)
    """
    CREATE TABLE uplink_credentials (
        identity TEXT PRIMARY KEY,
        password TEXT,
        cert_pem TEXT,
        key_pem TEXT,
        security_profile INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE uplink_outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        identity TEXT NOT NULL,
        unique_id TEXT NOT NULL,
        action TEXT NOT NULL,
        frame TEXT NOT NULL,
        station_tx INTEGER,
        local_tx INTEGER,
        queued_at TEXT NOT NULL
    );
    CREATE INDEX uplink_outbox_identity ON uplink_outbox(identity, seq);
    CREATE TABLE uplink_tx (
        station_id TEXT NOT NULL,
        station_tx INTEGER NOT NULL,
        local_tx INTEGER NOT NULL,
        csms_tx INTEGER,
        created_at TEXT NOT NULL,
        PRIMARY KEY (station_id, station_tx)
    );
    CREATE INDEX uplink_tx_local ON uplink_tx(station_id, local_tx);
    CREATE INDEX uplink_tx_csms ON uplink_tx(station_id, csms_tx);
    CREATE TABLE uplink_local_list (
        station_id TEXT NOT NULL,
        id_tag TEXT NOT NULL COLLATE NOCASE,
        status TEXT NOT NULL,
        expiry TEXT,
        parent_id_tag TEXT,
        PRIMARY KEY (station_id, id_tag)
    );
    CREATE TABLE uplink_local_list_version (
        station_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL
    );
    CREATE TABLE uplink_auth_cache (
        id_tag TEXT PRIMARY KEY COLLATE NOCASE,
        status TEXT NOT NULL,
        expiry TEXT,
        parent_id_tag TEXT,
        cached_at TEXT NOT NULL
    );
    CREATE TABLE uplink_csms_profiles (
        station_id TEXT NOT NULL,
        connector_id INTEGER NOT NULL,
        profile_id INTEGER NOT NULL,
        stack_level INTEGER NOT NULL,
        purpose TEXT NOT NULL,
        local_tx INTEGER,
        profile TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (station_id, connector_id, profile_id)
    );
    CREATE TABLE uplink_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
]
