internal import GRDB

/// The database schema as a list of migrations. Append new ones; never edit a shipped one.
///
/// Each migration exists twice, in each engine's terms and under the same identifier: here for
/// SQLite (through GRDB's migrator, which every existing database was built with) and in
/// `PostgresSchema` for PostgreSQL. A test checks that both lists and the tables they make agree.
enum Schema {
    /// The identifiers of every migration, oldest first.
    static var identifiers: [String] { sqlite.migrations }

    static let sqlite: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: journal, overrides, operations, audit, tokens, outbox") { db in
            try db.create(table: "operation") { t in
                t.primaryKey("id", .text)
                t.column("cluster", .text).notNull()
                t.column("namespaces", .jsonText).notNull()
                t.column("action", .text).notNull()
                t.column("source", .text).notNull()
                t.column("actor", .text).notNull()
                t.column("reason", .text)
                t.column("state", .text).notNull()
                t.column("summary", .jsonText)
                t.column("createdAt", .datetime).notNull()
                t.column("finishedAt", .datetime)
            }
            try db.create(index: "operation_on_cluster_createdAt", on: "operation", columns: ["cluster", "createdAt"])

            try db.create(table: "journalEntry") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("operationId", .text).notNull().references("operation", onDelete: .cascade)
                t.column("cluster", .text).notNull()
                t.column("namespace", .text).notNull()
                t.column("sleepInfo", .text).notNull()
                t.column("groupKind", .text).notNull()
                t.column("name", .text).notNull()
                t.column("restorePatch", .text).notNull()
                t.column("state", .text).notNull()
                t.column("updatedAt", .datetime).notNull()
                t.uniqueKey(["operationId", "groupKind", "name"])
            }
            try db.create(index: "journalEntry_on_namespace", on: "journalEntry", columns: ["cluster", "namespace", "sleepInfo"])

            try db.create(table: "override") { t in
                t.primaryKey("id", .text)
                t.column("cluster", .text).notNull()
                t.column("namespace", .text)
                t.column("kind", .text).notNull()
                t.column("until", .datetime)
                t.column("reason", .text)
                t.column("actor", .text).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("clearedAt", .datetime)
            }
            try db.create(index: "override_on_cluster", on: "override", columns: ["cluster", "namespace"])

            try db.create(table: "auditEntry") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("at", .datetime).notNull()
                t.column("actor", .text).notNull()
                t.column("source", .text).notNull()
                t.column("action", .text).notNull()
                t.column("cluster", .text)
                t.column("namespace", .text)
                t.column("target", .text)
                t.column("result", .text).notNull()
                t.column("detail", .text)
            }
            try db.create(index: "auditEntry_on_at", on: "auditEntry", columns: ["at"])

            try db.create(table: "apiToken") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull()
                t.column("hash", .text).notNull().unique()
                t.column("role", .text).notNull()
                t.column("teams", .jsonText).notNull()
                t.column("clusters", .jsonText).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("lastUsedAt", .datetime)
                t.column("revokedAt", .datetime)
            }

            try db.create(table: "outboxMessage") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("dedupKey", .text).notNull().unique()
                t.column("destination", .text).notNull()
                t.column("channel", .text)
                t.column("payload", .jsonText).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("nextAttemptAt", .datetime).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("deliveredAt", .datetime)
                t.column("abandonedAt", .datetime)
                t.column("lastError", .text)
            }
            try db.create(index: "outboxMessage_pending", on: "outboxMessage", columns: ["deliveredAt", "abandonedAt", "nextAttemptAt"])
        }
        migrator.registerMigration("v2: schedule state") { db in
            try db.create(table: "scheduleState") { t in
                t.column("cluster", .text).notNull()
                t.column("namespace", .text).notNull()
                t.column("unit", .text).notNull()
                t.column("firstSeenAt", .datetime).notNull()
                t.column("lastExecutedAt", .datetime)
                t.primaryKey(["cluster", "namespace", "unit"])
            }
        }
        migrator.registerMigration("v3: journal entries unique per namespace") { db in
            // One operation may cover several namespaces, each with its own objects named alike.
            try db.create(table: "newJournalEntry") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("operationId", .text).notNull().references("operation", onDelete: .cascade)
                t.column("cluster", .text).notNull()
                t.column("namespace", .text).notNull()
                t.column("sleepInfo", .text).notNull()
                t.column("groupKind", .text).notNull()
                t.column("name", .text).notNull()
                t.column("restorePatch", .text).notNull()
                t.column("state", .text).notNull()
                t.column("updatedAt", .datetime).notNull()
                t.uniqueKey(["operationId", "cluster", "namespace", "sleepInfo", "groupKind", "name"])
            }
            try db.execute(sql: "INSERT INTO newJournalEntry SELECT id, operationId, cluster, namespace, sleepInfo, groupKind, name, restorePatch, state, updatedAt FROM journalEntry")
            try db.drop(table: "journalEntry")
            try db.rename(table: "newJournalEntry", to: "journalEntry")
            try db.create(index: "journalEntry_on_namespace", on: "journalEntry", columns: ["cluster", "namespace", "sleepInfo"])
        }
        migrator.registerMigration("v4: overrides end with a reason and belong to their request; the schedule's memory") { db in
            // Why an override ended (cleared, superseded, ended, used, failed) and what replaced it.
            try db.alter(table: "override") { t in
                t.add(column: "operationId", .text)
                t.add(column: "endReason", .text)
                t.add(column: "replacedBy", .text)
            }
            try db.create(index: "override_open", on: "override", columns: ["cluster", "clearedAt"])
            // What the schedule wants since its last transition taken into account: sleep, wake or
            // none; NULL for rows written before this migration (worked out from the schedule).
            try db.alter(table: "scheduleState") { t in
                t.add(column: "wants", .text)
            }
            try db.create(index: "operation_unfinished", on: "operation", columns: ["cluster", "state"])
        }
        migrator.registerMigration("v5: GitOps changes, operation stages, Argo CD self-heal pauses") { db in
            // The stages a GitOps request went through: JSON array of {stage, at, namespace, detail, url}.
            try db.alter(table: "operation") { t in
                t.add(column: "stages", .jsonText)
            }
            // One change to one namespace's SleepInfo manifest in git, driven through a merge
            // request and an Argo CD sync until the agent sees it.
            try db.create(table: "gitopsChange") { t in
                t.primaryKey("id", .text)
                t.column("operationId", .text).notNull().references("operation", onDelete: .cascade)
                t.column("cluster", .text).notNull()
                t.column("namespace", .text).notNull()
                // The override the change carries (set) or clears (remove), and its fields.
                t.column("overrideId", .text).notNull()
                t.column("removal", .boolean).notNull().defaults(to: false)
                t.column("kind", .text).notNull()
                t.column("until", .datetime)
                t.column("reason", .text)
                t.column("actor", .text).notNull()
                t.column("annotation", .text)
                t.column("path", .text).notNull()
                t.column("application", .text).notNull()
                t.column("needsApproval", .boolean).notNull().defaults(to: false)
                t.column("stage", .text).notNull()
                t.column("state", .text).notNull()
                t.column("branch", .text)
                t.column("mergeRequestIID", .integer)
                t.column("mergeRequestURL", .text)
                t.column("mergeSHA", .text)
                t.column("arrivedAt", .datetime)
                t.column("supersededBy", .text)
                t.column("lastError", .text)
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("nextAttemptAt", .datetime).notNull()
                t.column("stageStartedAt", .datetime).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("updatedAt", .datetime).notNull()
            }
            try db.create(index: "gitopsChange_open", on: "gitopsChange", columns: ["state", "nextAttemptAt"])
            try db.create(index: "gitopsChange_on_namespace", on: "gitopsChange", columns: ["cluster", "namespace"])
            try db.create(index: "gitopsChange_on_operation", on: "gitopsChange", columns: ["operationId"])
            // An Argo CD Application whose self-heal the hub turned off while a namespace sleeps:
            // one row per sleeping namespace holding it, each with the sync policy to restore.
            try db.create(table: "argoPause") { t in
                t.column("cluster", .text).notNull()
                t.column("application", .text).notNull()
                t.column("namespace", .text).notNull()
                t.column("unit", .text).notNull()
                t.column("syncPolicy", .jsonText).notNull()
                t.column("operationId", .text)
                t.column("pausedAt", .datetime).notNull()
                t.primaryKey(["cluster", "application", "namespace", "unit"])
            }
        }
        migrator.registerMigration("v6: operations and overrides keep the order they were accepted in") { db in
            // An explicit sequence where the order of equal timestamps relied on SQLite's rowid,
            // which PostgreSQL does not have; filled on insert with the next number.
            for table in ["operation", "override"] {
                try db.execute(sql: "ALTER TABLE \(table) ADD COLUMN seq INTEGER NOT NULL DEFAULT 0")
                try db.execute(sql: "UPDATE \(table) SET seq = rowid")
                try db.execute(sql: "CREATE INDEX \(table)_on_seq ON \(table)(seq)")
            }
        }
        migrator.registerMigration("v7: journal entries keep what a partial sleep kept running") { db in
            try db.execute(sql: "ALTER TABLE journalEntry ADD COLUMN downtimeReplicas TEXT")
        }
        return migrator
    }()
}
