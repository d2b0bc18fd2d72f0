//! The history's schema as one ordered list of migrations, each written
//! for both databases side by side, so a change to the schema is one new
//! entry that neither backend can miss.
//!
//! Rules for a new migration: append it with the next version, never edit
//! one that has shipped, and only add (tables, nullable columns, indexes):
//! a replica still running the previous release keeps working against the
//! newer schema during a rolling upgrade, and so does one restarted then.

/// One step of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Its place in the order, from 1 without gaps.
    pub version: i64,
    /// What it does, for `fraud-server migrate` and the migrations table.
    pub name: &'static str,
    /// The SQLite statements.
    pub sqlite: &'static str,
    /// The PostgreSQL statements.
    pub postgres: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "predictions and the write probe",
        // The table as the hardened server created it without versions; `IF NOT
        // EXISTS` adopts such a database as version 1.
        sqlite: "CREATE TABLE IF NOT EXISTS predictions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            timestamp TEXT NOT NULL,
            request_id TEXT NOT NULL,
            transaction_id TEXT,
            model_version TEXT NOT NULL,
            features TEXT NOT NULL,
            fraud_probability REAL NOT NULL,
            is_fraud INTEGER NOT NULL,
            risk_level TEXT NOT NULL,
            latency_ms REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS history_probe (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            checked TEXT NOT NULL
        );",
        // Times as timestamptz, so operators can index and bucket them; the
        // input stays the JSON text as received (jsonb would refuse \u0000 in
        // a string and reorder keys).
        postgres: "CREATE TABLE IF NOT EXISTS predictions (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            \"timestamp\" TIMESTAMPTZ NOT NULL,
            request_id TEXT NOT NULL,
            transaction_id TEXT,
            model_version TEXT NOT NULL,
            features TEXT NOT NULL,
            fraud_probability DOUBLE PRECISION NOT NULL,
            is_fraud SMALLINT NOT NULL,
            risk_level TEXT NOT NULL,
            latency_ms DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE IF NOT EXISTS history_probe (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            checked TIMESTAMPTZ NOT NULL
        );",
    },
    Migration {
        version: 2,
        name: "shadow scores and labels",
        // Nullable columns only (see the rules above). A label is the true
        // class learnt later (a chargeback, an analyst's review); labels are
        // set by transaction id or request id, hence the indexes.
        sqlite: "ALTER TABLE predictions ADD COLUMN shadow_version TEXT;
            ALTER TABLE predictions ADD COLUMN shadow_probability REAL;
            ALTER TABLE predictions ADD COLUMN label INTEGER;
            ALTER TABLE predictions ADD COLUMN labelled_by TEXT;
            ALTER TABLE predictions ADD COLUMN labelled_at TEXT;
            CREATE INDEX IF NOT EXISTS predictions_transaction_id
                ON predictions (transaction_id);
            CREATE INDEX IF NOT EXISTS predictions_request_id ON predictions (request_id);",
        postgres: "ALTER TABLE predictions ADD COLUMN IF NOT EXISTS shadow_version TEXT;
            ALTER TABLE predictions ADD COLUMN IF NOT EXISTS shadow_probability DOUBLE PRECISION;
            ALTER TABLE predictions ADD COLUMN IF NOT EXISTS label SMALLINT;
            ALTER TABLE predictions ADD COLUMN IF NOT EXISTS labelled_by TEXT;
            ALTER TABLE predictions ADD COLUMN IF NOT EXISTS labelled_at TIMESTAMPTZ;
            CREATE INDEX IF NOT EXISTS predictions_transaction_id
                ON predictions (transaction_id);
            CREATE INDEX IF NOT EXISTS predictions_request_id ON predictions (request_id);",
    },
    Migration {
        version: 3,
        name: "indexes for shadow pairs and labelled rows",
        // Without them the shadow comparison and `/api/performance` read
        // the whole table when the rows they want are old or few. Partial
        // indexes hold only shadow-scored and labelled rows, so a plain
        // prediction's insert does not touch them. PostgreSQL builds them
        // while holding off writes (migrations run in one transaction);
        // on a large table, run the upgrade in a quiet moment.
        sqlite: "CREATE INDEX IF NOT EXISTS predictions_shadow_pairs
                ON predictions (shadow_version, model_version, id)
                WHERE shadow_probability IS NOT NULL;
            CREATE INDEX IF NOT EXISTS predictions_labelled
                ON predictions (timestamp, id) WHERE label IS NOT NULL;",
        postgres: "CREATE INDEX IF NOT EXISTS predictions_shadow_pairs
                ON predictions (shadow_version, model_version, id)
                WHERE shadow_probability IS NOT NULL;
            CREATE INDEX IF NOT EXISTS predictions_labelled
                ON predictions (\"timestamp\", id) WHERE label IS NOT NULL;",
    },
];

/// The version this build's schema ends at.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// What a migration run found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The database's version before the run (0: a new database).
    pub from: i64,
    /// Its version after the run.
    pub to: i64,
    /// The migrations applied, in order.
    pub applied: Vec<(i64, &'static str)>,
}

impl MigrationReport {
    /// Whether the database is at a version this build does not know (a
    /// newer release migrated it). Migrations only add, so this build still
    /// works with it.
    pub fn newer_than_this_build(&self) -> bool {
        self.to > latest()
    }
}

impl std::fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.applied.is_empty() {
            write!(f, "schema at version {}, nothing to apply", self.to)?;
        } else {
            write!(f, "schema from version {} to {}:", self.from, self.to)?;
            for (version, name) in &self.applied {
                write!(f, " {version} ({name})")?;
            }
        }
        if self.newer_than_this_build() {
            write!(
                f,
                "; newer than this build's {} (a later release migrated it)",
                latest()
            )?;
        }
        Ok(())
    }
}

/// The migrations after `version`, in order.
pub fn pending(version: i64) -> impl Iterator<Item = &'static Migration> {
    MIGRATIONS.iter().filter(move |m| m.version > version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_from_one_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
            assert!(!m.sqlite.trim().is_empty() && !m.postgres.trim().is_empty());
        }
        assert_eq!(pending(0).count(), MIGRATIONS.len());
        assert_eq!(pending(latest()).count(), 0);
    }
}
