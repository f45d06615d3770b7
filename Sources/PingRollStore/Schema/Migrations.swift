/// One schema change. Once shipped a migration is never edited: changes are new migrations, and
/// a migration's SQL is written out in full (no shared constants), so editing code elsewhere
/// can never change a shipped migration.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    /// Statements in shared SQL (see `SQLDialect.render`), run in one transaction.
    let statements: @Sendable (SQLDialect) -> [String]
}

/// Whether a migration has been applied to a database.
public struct MigrationState: Equatable, Sendable {
    public let version: Int
    public let name: String
    /// When it was applied, or nil while pending.
    public let appliedAt: Int64?
}

/// The append-only list of pingroll's migrations.
public enum Migrations {
    public static let all: [Migration] = [initialSchema, rollups, apiTokens, ingestCounts, beta, wideSums, boundedQuarantine,
                                          internalAndCategories, payloadShapes, onlineRebuild, retentionAndPulls, cellMembers, migrationRuns,
                                          quarantineFingerprints, jobsAndImportKeys,
                                          metadataMetricRows, annotations, population, subscriptions, alertStates]

    public static var latestVersion: Int { all.last?.version ?? 0 }

    static let bookkeeping = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )
        """

    static let initialSchema = Migration(version: 1, name: "pings, installations, quarantine, client reports") { dialect in
        (dialect == .postgres ? ["CREATE SEQUENCE pings_id_seq AS BIGINT"] : []) + [
            """
            CREATE TABLE installations (
                id {{ID}},
                uuid TEXT NOT NULL,
                hostname TEXT NOT NULL,
                first_seen_at BIGINT NOT NULL,
                last_seen_at BIGINT NOT NULL,
                latest_ping_id BIGINT,
                latest_recorded_at BIGINT,
                version TEXT,
                version_major INTEGER,
                version_minor INTEGER,
                version_patch INTEGER,
                ee SMALLINT,
                edition TEXT,
                tier TEXT,
                installation_type TEXT,
                active_user_count BIGINT,
                registry_enabled SMALLINT,
                registry_vendor TEXT,
                registry_version TEXT,
                db_enabled SMALLINT,
                UNIQUE (uuid, hostname)
            )
            """,
            pingsTable(dialect),
            "CREATE INDEX pings_recorded_at ON pings (recorded_at)",
            """
            CREATE TABLE quarantine (
                id {{ID}},
                received_at BIGINT NOT NULL,
                route TEXT NOT NULL,
                status INTEGER NOT NULL,
                reason TEXT NOT NULL,
                message TEXT NOT NULL,
                remote_address TEXT,
                content_type TEXT,
                content_encoding TEXT,
                body_size BIGINT NOT NULL,
                body_truncated SMALLINT NOT NULL,
                body {{BLOB}} NOT NULL
            )
            """,
            "CREATE INDEX quarantine_received_at ON quarantine (received_at)",
            """
            CREATE TABLE ping_errors (
                id {{ID}},
                received_at BIGINT NOT NULL,
                uuid TEXT,
                hostname TEXT,
                version TEXT,
                message TEXT,
                elapsed TEXT,
                remote_address TEXT,
                body TEXT NOT NULL
            )
            """,
            "CREATE INDEX ping_errors_uuid ON ping_errors (uuid)",
            """
            CREATE TABLE ping_metadata (
                id {{ID}},
                received_at BIGINT NOT NULL,
                uuid TEXT,
                metric_count INTEGER,
                remote_address TEXT,
                body TEXT NOT NULL
            )
            """,
            "CREATE INDEX ping_metadata_uuid ON ping_metadata (uuid)",
        ]
    }

    /// Raw pings. On PostgreSQL they are partitioned by month of `recorded_at` (partitions are
    /// created on demand, see `PostgresPartitions`), so old months can be detached for retention;
    /// a partitioned table's keys must include the partition key, hence `(id, recorded_at)`.
    static func pingsTable(_ dialect: SQLDialect) -> String {
        let id = dialect == .postgres ? "id BIGINT NOT NULL DEFAULT nextval('pings_id_seq')" : "id {{ID}}"
        let tail = dialect == .postgres ? ",\n    PRIMARY KEY (id, recorded_at)\n) PARTITION BY RANGE (recorded_at)" : "\n)"
        return """
            CREATE TABLE pings (
                \(id),
                installation_id BIGINT NOT NULL REFERENCES installations (id),
                recorded_at BIGINT NOT NULL,
                received_at BIGINT NOT NULL,
                version TEXT,
                version_major INTEGER,
                version_minor INTEGER,
                version_patch INTEGER,
                ee SMALLINT,
                edition TEXT,
                tier TEXT,
                installation_type TEXT,
                active_user_count BIGINT,
                registry_enabled SMALLINT,
                registry_vendor TEXT,
                registry_version TEXT,
                db_enabled SMALLINT,
                payload_encoding TEXT NOT NULL,
                payload_size BIGINT NOT NULL,
                payload {{BLOB}} NOT NULL,
                UNIQUE (installation_id, recorded_at)\(tail)
            """
    }

    static let rollups = Migration(version: 2, name: "rollup cells, latest ping per installation and period") { _ in
        [
            "ALTER TABLE pings ADD COLUMN observations TEXT",
            """
            CREATE TABLE rollup_tuples (
                id {{ID}},
                edition TEXT NOT NULL,
                tier TEXT NOT NULL,
                installation_type TEXT NOT NULL,
                version TEXT NOT NULL,
                registry_vendor TEXT NOT NULL,
                UNIQUE (edition, tier, installation_type, version, registry_vendor)
            )
            """,
            """
            CREATE TABLE rollup_cells (
                period SMALLINT NOT NULL,
                period_start BIGINT NOT NULL,
                tuple_id BIGINT NOT NULL,
                metric TEXT NOT NULL,
                cell TEXT NOT NULL,
                count BIGINT NOT NULL,
                sum_units BIGINT NOT NULL,
                sum_micros BIGINT NOT NULL,
                PRIMARY KEY (metric, period, period_start, tuple_id, cell)
            ) {{WITHOUT_ROWID}}
            """,
            """
            CREATE TABLE rollup_latest (
                installation_id BIGINT NOT NULL,
                period SMALLINT NOT NULL,
                period_start BIGINT NOT NULL,
                ping_id BIGINT NOT NULL,
                recorded_at BIGINT NOT NULL,
                PRIMARY KEY (installation_id, period, period_start)
            ) {{WITHOUT_ROWID}}
            """,
            """
            CREATE TABLE rollup_metrics (
                metric TEXT PRIMARY KEY,
                definition TEXT NOT NULL,
                built_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE rollup_string_values (
                metric TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (metric, value)
            )
            """,
        ]
    }

    static let apiTokens = Migration(version: 3, name: "API tokens") { _ in
        [
            """
            CREATE TABLE api_tokens (
                token_id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                role TEXT NOT NULL,
                secret_hash {{BLOB}} NOT NULL,
                created_at BIGINT NOT NULL,
                revoked_at BIGINT
            )
            """,
            "CREATE INDEX api_tokens_name ON api_tokens (name)",
        ]
    }

    static let ingestCounts = Migration(version: 4, name: "pings accepted and duplicates per day") { _ in
        [
            """
            CREATE TABLE ingest_daily (
                day BIGINT PRIMARY KEY,
                accepted BIGINT NOT NULL,
                duplicates BIGINT NOT NULL
            )
            """,
            "CREATE INDEX quarantine_reason ON quarantine (reason, received_at)",
            "ALTER TABLE quarantine ADD COLUMN retried_at BIGINT",
            "ALTER TABLE quarantine ADD COLUMN retry_ping_id BIGINT",
        ]
    }

    static let beta = Migration(version: 5, name: "beta programs, enrollments, history, feedback, cohorts") { _ in
        [
            """
            CREATE TABLE beta_programs (
                slug TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                description TEXT,
                phases TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE beta_enrollments (
                id {{ID}},
                program TEXT NOT NULL REFERENCES beta_programs (slug),
                organization TEXT NOT NULL,
                contact_name TEXT NOT NULL,
                contact_email TEXT NOT NULL,
                uuid TEXT,
                hostname TEXT,
                installation_type TEXT,
                registry_size_bytes BIGINT,
                storage_driver TEXT,
                phase TEXT,
                status TEXT NOT NULL,
                blocked_from TEXT,
                notes TEXT,
                geo_enabled SMALLINT,
                database_setup TEXT,
                registry_nodes BIGINT,
                tagged_images BIGINT,
                import_mode TEXT,
                backup_taken SMALLINT,
                offline_gc_disabled SMALLINT,
                motivation TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX beta_enrollments_program ON beta_enrollments (program, id)",
            "CREATE INDEX beta_enrollments_uuid ON beta_enrollments (uuid)",
            """
            CREATE TABLE beta_history (
                id {{ID}},
                enrollment_id BIGINT NOT NULL,
                at BIGINT NOT NULL,
                token_name TEXT NOT NULL,
                field TEXT NOT NULL,
                old_value TEXT,
                new_value TEXT
            )
            """,
            "CREATE INDEX beta_history_enrollment ON beta_history (enrollment_id, id)",
            """
            CREATE TABLE beta_feedback (
                id {{ID}},
                enrollment_id BIGINT NOT NULL,
                program TEXT NOT NULL,
                category TEXT NOT NULL,
                rating INTEGER NOT NULL,
                text TEXT NOT NULL,
                issue_url TEXT,
                at BIGINT NOT NULL,
                token_name TEXT NOT NULL
            )
            """,
            "CREATE INDEX beta_feedback_program ON beta_feedback (program, at)",
            """
            CREATE TABLE beta_cohorts (
                program TEXT NOT NULL,
                name TEXT NOT NULL,
                filter TEXT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (program, name)
            )
            """,
        ]
    }

    static let wideSums = Migration(version: 6, name: "rollup sums in three limbs (sum_high × 2^26 + sum_units + sum_micros / 10^6)") { _ in
        ["ALTER TABLE rollup_cells ADD COLUMN sum_high BIGINT NOT NULL DEFAULT 0"]
    }

    static let boundedQuarantine = Migration(version: 7, name: "quarantine bodies compressed and capped; rejections counted per day") { _ in
        [
            "ALTER TABLE quarantine ADD COLUMN body_codec TEXT",
            "ALTER TABLE quarantine ADD COLUMN stored_size BIGINT",
            "UPDATE quarantine SET stored_size = length(body) + 256",
            """
            CREATE TABLE quarantine_totals (
                id SMALLINT PRIMARY KEY,
                stored_bytes BIGINT NOT NULL,
                dropped BIGINT NOT NULL,
                dropped_bytes BIGINT NOT NULL
            )
            """,
            "INSERT INTO quarantine_totals (id, stored_bytes, dropped, dropped_bytes) SELECT 1, COALESCE(SUM(stored_size), 0), 0, 0 FROM quarantine",
            """
            CREATE TABLE rejected_daily (
                day BIGINT NOT NULL,
                reason TEXT NOT NULL,
                count BIGINT NOT NULL,
                PRIMARY KEY (day, reason)
            )
            """,
            """
            INSERT INTO rejected_daily (day, reason, count)
            SELECT received_at / 86400000, reason, COUNT(*) FROM quarantine WHERE received_at >= 0
            GROUP BY received_at / 86400000, reason
            """,
        ]
    }

    /// Two fact columns and two rollup dimensions: `internal` (GitLab's own installations) and
    /// `optional_metrics` (from `settings.collected_data_categories`). SQLite cannot change a
    /// table's unique constraint, so `rollup_tuples` is copied into a new table, ids kept. Pings
    /// stored before keep NULL in both columns, which read as internal `false` and
    /// optional_metrics `unknown`, exactly the values their tuples get here, so the rollups stay
    /// consistent; `rollup rebuild` re-derives both from the payloads (`RollupState`'s
    /// installations definition changed with this migration, so serve says to run it).
    static let internalAndCategories = Migration(version: 8, name: "internal installations and collected data categories") { dialect in
        var statements = [
            "ALTER TABLE pings ADD COLUMN internal SMALLINT",
            "ALTER TABLE pings ADD COLUMN data_categories TEXT",
            "ALTER TABLE installations ADD COLUMN internal SMALLINT",
            "ALTER TABLE installations ADD COLUMN data_categories TEXT",
            """
            CREATE TABLE rollup_tuples_v8 (
                id {{ID}},
                edition TEXT NOT NULL,
                tier TEXT NOT NULL,
                installation_type TEXT NOT NULL,
                version TEXT NOT NULL,
                registry_vendor TEXT NOT NULL,
                internal TEXT NOT NULL,
                optional_metrics TEXT NOT NULL,
                UNIQUE (edition, tier, installation_type, version, registry_vendor, internal, optional_metrics)
            )
            """,
            """
            INSERT INTO rollup_tuples_v8 (id, edition, tier, installation_type, version, registry_vendor, internal, optional_metrics)
            SELECT id, edition, tier, installation_type, version, registry_vendor, 'false', 'unknown' FROM rollup_tuples
            """,
            "DROP TABLE rollup_tuples",
            "ALTER TABLE rollup_tuples_v8 RENAME TO rollup_tuples",
        ]
        if dialect == .postgres {
            // Ids were inserted explicitly: the identity must continue after them.
            statements.append("""
                SELECT setval(pg_get_serial_sequence('rollup_tuples', 'id'), COALESCE((SELECT MAX(id) FROM rollup_tuples), 0) + 1, false)
                """)
        }
        return statements
    }

    /// Payload skeletons stored once (`JSONShape`): a ping stored as `shape-zstd` keeps only its
    /// values and the id of its skeleton. Rows stored before keep `zstd` and NULL `shape_id`, and
    /// read as they are; `pingroll storage recompress` rewrites them.
    static let payloadShapes = Migration(version: 9, name: "payload skeletons stored once per shape") { _ in
        [
            """
            CREATE TABLE payload_shapes (
                id {{ID}},
                hash BIGINT NOT NULL,
                size BIGINT NOT NULL,
                skeleton {{BLOB}} NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX payload_shapes_hash ON payload_shapes (hash)",
            "ALTER TABLE pings ADD COLUMN shape_id BIGINT",
        ]
    }

    /// The progress of an online `rollup rebuild`: which metrics it recomputes, the installation
    /// id up to which it has (pings of installations at or below `cursor` are folded by the
    /// writers as they arrive, the others are left to the rebuild), and which run owns it.
    static let onlineRebuild = Migration(version: 10, name: "online rollup rebuild progress") { _ in
        [
            """
            CREATE TABLE rollup_rebuild (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                full_rebuild SMALLINT NOT NULL,
                targets TEXT NOT NULL,
                cursor BIGINT NOT NULL,
                pings BIGINT NOT NULL,
                owner TEXT NOT NULL,
                started_at BIGINT NOT NULL,
                heartbeat_at BIGINT NOT NULL,
                diverged TEXT
            )
            """,
        ]
    }

    /// Retention runs (what each dropped), the status of scheduled pulls (so it survives a
    /// restart), and the indexes retention prunes the client reports by.
    static let retentionAndPulls = Migration(version: 11, name: "retention runs, pull status, report indexes by time") { _ in
        [
            """
            CREATE TABLE retention_runs (
                id {{ID}},
                started_at BIGINT NOT NULL,
                finished_at BIGINT NOT NULL,
                payload_days INTEGER,
                report_days INTEGER,
                payloads BIGINT NOT NULL,
                payload_bytes BIGINT NOT NULL,
                partitions TEXT NOT NULL,
                quarantine_entries BIGINT NOT NULL,
                quarantine_bytes BIGINT NOT NULL,
                metadata_reports BIGINT NOT NULL,
                error_reports BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE pull_status (
                name TEXT PRIMARY KEY,
                url TEXT NOT NULL,
                last_attempt_at BIGINT,
                last_success_at BIGINT,
                last_usage_data_id BIGINT,
                last_error TEXT,
                next_at BIGINT NOT NULL,
                successes BIGINT NOT NULL,
                failures BIGINT NOT NULL
            )
            """,
            "CREATE INDEX ping_metadata_received_at ON ping_metadata (received_at)",
            "CREATE INDEX ping_errors_received_at ON ping_errors (received_at)",
        ]
    }

    /// Drill-down from a series cell to its installations reads one period's latest pings.
    static let cellMembers = Migration(version: 12, name: "latest pings by period, for drill-down") { _ in
        ["CREATE INDEX rollup_latest_period ON rollup_latest (period, period_start, installation_id)"]
    }

    /// Beta migration runs: an enrollment's import attempts with their phases, kept as a JSON
    /// document per run beside the columns they are looked up by.
    static let migrationRuns = Migration(version: 13, name: "beta migration runs") { _ in
        [
            """
            CREATE TABLE beta_migration_runs (
                id {{ID}},
                enrollment_id BIGINT NOT NULL,
                program TEXT NOT NULL,
                started_at BIGINT NOT NULL,
                data TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX beta_migration_runs_enrollment ON beta_migration_runs (enrollment_id, id)",
            "CREATE INDEX beta_migration_runs_program ON beta_migration_runs (program, id)",
        ]
    }

    /// Entries that must not be kept twice (a rejected line of a file imported again) carry a
    /// fingerprint of what they are; a second entry with the same one is not stored.
    static let quarantineFingerprints = Migration(version: 14, name: "quarantine fingerprints (an import run twice quarantines a line once)") { _ in
        [
            "ALTER TABLE quarantine ADD COLUMN fingerprint TEXT",
            "CREATE UNIQUE INDEX quarantine_fingerprint ON quarantine (fingerprint)",
        ]
    }

    /// Jobs (the job lane's long operations, kept so their outcome outlives a restart), and the
    /// key of the import that created an enrollment with its row, so the same import run again
    /// after an interruption creates no row twice.
    static let jobsAndImportKeys = Migration(version: 15, name: "jobs; enrollment import keys (an import run again creates no row twice)") { _ in
        [
            """
            CREATE TABLE jobs (
                id {{ID}},
                kind TEXT NOT NULL,
                state TEXT NOT NULL,
                created_by TEXT NOT NULL,
                subject TEXT NOT NULL,
                progress_done BIGINT NOT NULL,
                progress_total BIGINT,
                created_at BIGINT NOT NULL,
                started_at BIGINT,
                finished_at BIGINT,
                result_status INTEGER,
                result TEXT,
                error TEXT
            )
            """,
            "CREATE INDEX jobs_state ON jobs (state, id)",
            "ALTER TABLE beta_enrollments ADD COLUMN import_key TEXT",
            "ALTER TABLE beta_enrollments ADD COLUMN import_row BIGINT",
            "CREATE UNIQUE INDEX beta_enrollments_import ON beta_enrollments (import_key, import_row)",
        ]
    }

    /// A metadata report's metrics as rows, written with the report (`folded` = 1), so
    /// instrumentation health reads rows instead of decoding every report on every view.
    static let metadataMetricRows = Migration(version: 16, name: "metadata report metrics as rows") { _ in
        [
            """
            CREATE TABLE metadata_metrics (
                report_id BIGINT NOT NULL,
                name TEXT NOT NULL,
                failed SMALLINT NOT NULL,
                elapsed DOUBLE PRECISION
            )
            """,
            "CREATE INDEX metadata_metrics_report ON metadata_metrics (report_id)",
            "ALTER TABLE ping_metadata ADD COLUMN folded SMALLINT NOT NULL DEFAULT 0",
        ]
    }

    /// Annotations on the time axis; pingroll's own ones carry a unique key (written once). The
    /// releases already seen are written now, at their first ping.
    static let annotations = Migration(version: 17, name: "annotations") { _ in
        [
            """
            CREATE TABLE annotations (
                id {{ID}},
                at BIGINT NOT NULL,
                kind TEXT NOT NULL,
                text TEXT NOT NULL,
                metric TEXT,
                auto SMALLINT NOT NULL,
                unique_key TEXT,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX annotations_unique_key ON annotations (unique_key)",
            "CREATE INDEX annotations_at ON annotations (at)",
            """
            INSERT INTO annotations (at, kind, text, metric, auto, unique_key, created_at)
            SELECT MIN(recorded_at), 'release', 'first ping from ' || CAST(version_major AS TEXT) || '.' || CAST(version_minor AS TEXT), NULL, 1,
                   'release:' || CAST(version_major AS TEXT) || '.' || CAST(version_minor AS TEXT), MIN(received_at)
            FROM pings WHERE version_major IS NOT NULL AND version_minor IS NOT NULL
            GROUP BY version_major, version_minor
            """,
        ]
    }

    /// The population reporters are drawn from (`PUT /api/v1/population`), for the `population`
    /// estimate: installations per period start, dimension (`all` or a series dimension) and value.
    static let population = Migration(version: 18, name: "estimate population") { _ in
        [
            """
            CREATE TABLE population (
                period_start BIGINT NOT NULL,
                dimension TEXT NOT NULL,
                value TEXT NOT NULL,
                installations BIGINT NOT NULL,
                PRIMARY KEY (dimension, value, period_start)
            )
            """,
        ]
    }

    /// Digest and alert subscriptions, and every delivery: one row per subscription, subject
    /// (a digest's period, an alert's change) and generation (a deliberate resend), so that two
    /// collectors or a restart never enqueue the same delivery twice; a delivery is claimed with
    /// a lease before it is sent and marked after.
    static let subscriptions = Migration(version: 19, name: "subscriptions and deliveries") { _ in
        [
            """
            CREATE TABLE subscriptions (
                id {{ID}},
                kind TEXT NOT NULL,
                channel TEXT NOT NULL,
                target TEXT NOT NULL,
                secret_sealed {{BLOB}},
                schedule TEXT,
                dashboards TEXT NOT NULL,
                rule TEXT,
                created_by TEXT NOT NULL,
                created_role TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE deliveries (
                id {{ID}},
                delivery_id TEXT NOT NULL,
                subscription_id BIGINT NOT NULL,
                subject TEXT NOT NULL,
                generation INTEGER NOT NULL,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                next_attempt_at BIGINT NOT NULL,
                lease_until BIGINT,
                last_error TEXT,
                body {{BLOB}} NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX deliveries_once ON deliveries (subscription_id, subject, generation)",
            "CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at)",
        ]
    }

    /// Each alert rule's state per group: whether it holds (firing) since when, with the values
    /// that made it so; it survives restarts, and a change notifies once.
    static let alertStates = Migration(version: 20, name: "alert states") { _ in
        [
            """
            CREATE TABLE alert_states (
                subscription_id BIGINT NOT NULL,
                group_value TEXT NOT NULL,
                firing SMALLINT NOT NULL,
                since BIGINT NOT NULL,
                period_start BIGINT NOT NULL,
                detail TEXT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (subscription_id, group_value)
            )
            """,
        ]
    }
}
