// Migration 1: the resources table and the global revision counter.
export const sql = `
CREATE TABLE resources (
  seq                INTEGER PRIMARY KEY AUTOINCREMENT, -- creation order: "newest" never depends on clock precision
  uid                TEXT    NOT NULL UNIQUE,
  kind               TEXT    NOT NULL,
  name               TEXT    NOT NULL,
  generation         INTEGER NOT NULL,
  resource_version   INTEGER NOT NULL,
  created_at         TEXT    NOT NULL,
  updated_at         TEXT    NOT NULL,
  source             TEXT    NOT NULL,
  labels             TEXT    NOT NULL,
  finalizers         TEXT    NOT NULL,
  deletion_timestamp TEXT,
  spec               TEXT    NOT NULL,
  status             TEXT    NOT NULL,
  UNIQUE (kind, name)
);
CREATE INDEX resources_kind_seq ON resources (kind, seq);
CREATE INDEX resources_source ON resources (source);
CREATE TABLE revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT INTO revision (id, value) VALUES (1, 0);
`;
