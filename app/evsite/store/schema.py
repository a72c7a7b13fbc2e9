"""The core schema, one migration script per version; never edit a released one, append."""

CORE_MIGRATIONS: list[str] = [
    # 1: stations, enrollment, badges, transactions, meter samples, audit log
    """
    CREATE TABLE stations (
        id TEXT PRIMARY KEY,
        key_salt BLOB,
        key_hash BLOB,
        security_profile INTEGER NOT NULL DEFAULT 2,
        enabled INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        vendor TEXT, model TEXT, serial TEXT, firmware TEXT,
        last_boot_at TEXT, last_seen_at TEXT,
        registration_status TEXT NOT NULL DEFAULT 'Accepted'
    );
    CREATE TABLE station_addresses (
        station_id TEXT NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
        address TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        connections INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (station_id, address)
    );
    CREATE TABLE pending_enrollments (
        station_id TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        source TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE connectors (
        station_id TEXT NOT NULL REFERENCES stations(id) ON DELETE CASCADE,
        connector_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        error_code TEXT NOT NULL DEFAULT 'NoError',
        info TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (station_id, connector_id)
    );
    CREATE TABLE badges (
        id_tag TEXT PRIMARY KEY,
        status TEXT NOT NULL DEFAULT 'Accepted',
        expiry TEXT,
        parent_id_tag TEXT,
        badge_group TEXT,
        vip INTEGER NOT NULL DEFAULT 0,
        label TEXT
    );
    CREATE TABLE transactions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        station_id TEXT NOT NULL,
        connector_id INTEGER NOT NULL,
        id_tag TEXT NOT NULL,
        meter_start INTEGER NOT NULL,
        start_time TEXT NOT NULL,
        reservation_id INTEGER,
        meter_stop INTEGER,
        stop_time TEXT,
        stop_reason TEXT,
        stop_id_tag TEXT,
        energy_wh INTEGER
    );
    CREATE INDEX transactions_station ON transactions(station_id, start_time);
    CREATE INDEX transactions_open ON transactions(station_id) WHERE stop_time IS NULL;
    CREATE TABLE meter_samples (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        station_id TEXT NOT NULL,
        connector_id INTEGER NOT NULL,
        transaction_id INTEGER,
        timestamp TEXT NOT NULL,
        measurand TEXT NOT NULL,
        phase TEXT,
        unit TEXT,
        context TEXT,
        value REAL NOT NULL
    );
    CREATE INDEX meter_samples_tx ON meter_samples(transaction_id);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        event TEXT NOT NULL,
        actor TEXT NOT NULL,
        source TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )
    """,
]
