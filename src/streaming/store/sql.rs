//! The SQL store: nats-streaming-server's PostgreSQL tables, written through
//! the blocking `postgres` client.
//!
//! Why it is shaped this way:
//!
//! - **Upstream's schema.** The tables and columns are those of
//!   nats-streaming-server's `scripts/postgres.db.sql` (`ServerInfo`,
//!   `Clients`, `Channels`, `Messages`, `Subscriptions`, `SubsPending`,
//!   `StoreLock`), so a database an administrator prepared with that script
//!   works as it is, and [`SqlStore::create_schema`] (run by
//!   [`SqlStore::open`]) creates whatever is missing. Records are the
//!   protobufs of [`super::records`]; a message row holds the encoded
//!   `MsgProto` in `Messages.data`, as upstream.
//! - **A blocking client.** The engine calls its store from one plain
//!   thread, so the synchronous `postgres` crate (which drives its own small
//!   runtime) fits. It must never be used, opened or dropped from async
//!   code (a tokio worker thread), where it panics; the engine's thread and
//!   `spawn_blocking` are fine.
//! - **One transaction per flush.** The first write after a flush begins a
//!   transaction and [`Store::flush`] commits it, so the engine's batching
//!   gives one commit per batch. With [`SqlOptions::no_caching`] every
//!   statement commits on its own. When a statement fails inside the
//!   transaction (or the connection drops), the transaction is rolled back,
//!   the counters are read again from the database, and the next `flush`
//!   fails, so the engine acknowledges nothing that was lost. A dropped
//!   connection is opened again on the next call.
//! - **Counters in memory.** First/last sequence, count and bytes per
//!   channel are read with aggregate queries at [`Store::recover`] and then
//!   kept in memory, so [`Store::stats`] needs no query. The oldest rows over
//!   `max_msgs`/`max_bytes` are deleted in `store_msg` (never the last one),
//!   over `max_age` in `expire`. When `expire` empties a channel, its last
//!   sequence goes to `Channels.maxseq` (as upstream), so sequences are not
//!   reused after a restart; recovery takes the highest of `maxseq`, the
//!   messages' and the subscriptions' last sent.
//! - **Pending as one row per sequence.** The `SubsPending` rows this store
//!   writes are upstream's "no caching" rows, `(subid, row = seq, seq)`: a
//!   send inserts one, an ack deletes it and, when it was the highest
//!   sequence sent, records it in `Subscriptions.lastsent`. Upstream's other
//!   row kind (JSON arrays of pending and acknowledged sequences, `seq = 0`)
//!   is read at recovery and rewritten as rows per sequence.
//! - **The fault-tolerance lock.** [`SqlStore::try_lock`] takes or renews
//!   the one `StoreLock` row on its own connection (so a renewal commits at
//!   once, whatever batch is open): the row is taken when it is free, ours,
//!   or its `tick` (milliseconds of the database's clock, so the hosts'
//!   clocks do not matter) is older than the lease. [`Store::renew_lock`]
//!   renews the lock taken, and dropping the store releases it. (Upstream
//!   ticks a counter instead: its lock rows look stale here, so rnats and
//!   nats-streaming-server servers must not share an FT group.)
//! - **Recently stored messages are kept** (a few hundred, at most 1 MiB per
//!   channel): the deliveries right after a publish read them without a
//!   query. Statements are prepared once per connection.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use postgres::types::{FromSql, ToSql};
use postgres::{Client, Config, NoTls, Row, Statement};
use prost::Message;

use super::{
    ChannelLimits, ChannelStats, ClientInfo, Recovered, RecoveredChannel, RecoveredSub, Result,
    ServerInfo, Store, StoreError, StoreKind, SubState,
};
use crate::streaming::proto::MsgProto;

/// `ServerInfo.version`: the layout of the tables (upstream's `sqlVersion`).
const SQL_VERSION: i32 = 1;

/// Upstream's `scripts/postgres.db.sql`, made idempotent (and with a
/// PostgreSQL index on `Channels.name`: upstream's `name(256)` is MySQL's).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ServerInfo (uniquerow INTEGER DEFAULT 1, id VARCHAR(1024), proto BYTEA, version INTEGER, PRIMARY KEY (uniquerow));
CREATE TABLE IF NOT EXISTS Clients (id VARCHAR(1024), hbinbox TEXT, PRIMARY KEY (id));
CREATE TABLE IF NOT EXISTS Channels (id INTEGER, name VARCHAR(1024) NOT NULL, maxseq BIGINT DEFAULT 0, maxmsgs INTEGER DEFAULT 0, maxbytes BIGINT DEFAULT 0, maxage BIGINT DEFAULT 0, deleted BOOL DEFAULT FALSE, PRIMARY KEY (id));
CREATE INDEX IF NOT EXISTS Idx_ChannelsName ON Channels (name);
CREATE TABLE IF NOT EXISTS Messages (id INTEGER, seq BIGINT, timestamp BIGINT, size INTEGER, data BYTEA, CONSTRAINT PK_MsgKey PRIMARY KEY(id, seq));
CREATE INDEX IF NOT EXISTS Idx_MsgsTimestamp ON Messages (timestamp);
CREATE TABLE IF NOT EXISTS Subscriptions (id INTEGER, subid BIGINT, lastsent BIGINT DEFAULT 0, proto BYTEA, deleted BOOL DEFAULT FALSE, CONSTRAINT PK_SubKey PRIMARY KEY(id, subid));
CREATE TABLE IF NOT EXISTS SubsPending (subid BIGINT, row BIGINT, seq BIGINT DEFAULT 0, lastsent BIGINT DEFAULT 0, pending BYTEA, acks BYTEA, CONSTRAINT PK_MsgPendingKey PRIMARY KEY(subid, row));
CREATE INDEX IF NOT EXISTS Idx_SubsPendingSeq ON SubsPending (seq);
CREATE TABLE IF NOT EXISTS StoreLock (id VARCHAR(30), tick BIGINT DEFAULT 0);
ALTER TABLE Clients ADD COLUMN IF NOT EXISTS proto BYTEA;
";

/// Whether every table and index of [`SCHEMA`] is there: then nothing is
/// run, so opening a store takes no lock on the tables another server uses.
const SCHEMA_COMPLETE: &str = "SELECT COUNT(*) = 10 AND EXISTS (SELECT 1 FROM pg_attribute \
     WHERE attrelid = to_regclass('clients') AND attname = 'proto' AND NOT attisdropped) \
     FROM unnest(ARRAY['serverinfo', 'clients', 'channels', 'idx_channelsname', 'messages', \
     'idx_msgstimestamp', 'subscriptions', 'subspending', 'idx_subspendingseq', 'storelock']) AS r \
     WHERE to_regclass(r) IS NOT NULL";
const SCHEMA_MISSING: &str = "SELECT to_regnamespace($1) IS NULL";

// Server and clients.
const SAVE_INFO: &str = "INSERT INTO ServerInfo (uniquerow, id, proto, version) VALUES (1, $1, $2, $3) \
     ON CONFLICT (uniquerow) DO UPDATE SET id = EXCLUDED.id, proto = EXCLUDED.proto, version = EXCLUDED.version";
const LOAD_INFO: &str = "SELECT id, proto, version FROM ServerInfo WHERE uniquerow = 1";
const SAVE_CLIENT: &str = "INSERT INTO Clients (id, hbinbox, proto) VALUES ($1, $2, $3) \
     ON CONFLICT (id) DO UPDATE SET hbinbox = EXCLUDED.hbinbox, proto = EXCLUDED.proto";
const DELETE_CLIENT: &str = "DELETE FROM Clients WHERE id = $1";
const LOAD_CLIENTS: &str = "SELECT id, hbinbox, proto FROM Clients ORDER BY id";

// Channels.
const MAX_CHANNEL_ID: &str = "SELECT COALESCE(MAX(id), 0) FROM Channels";
const LOAD_CHANNELS: &str =
    "SELECT id, name, maxseq FROM Channels WHERE deleted = FALSE ORDER BY id";
const ADD_CHANNEL: &str =
    "INSERT INTO Channels (id, name, maxmsgs, maxbytes, maxage) VALUES ($1, $2, $3, $4, $5)";
const ENSURE_CHANNEL: &str = "INSERT INTO Channels (id, name, maxmsgs, maxbytes, maxage) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING";
const SAVE_LIMITS: &str =
    "UPDATE Channels SET maxmsgs = $2, maxbytes = $3, maxage = $4 WHERE id = $1";
const SAVE_MAXSEQ: &str = "UPDATE Channels SET maxseq = $2 WHERE id = $1";
const DELETE_CHANNEL: [&str; 4] = [
    "DELETE FROM SubsPending WHERE subid IN (SELECT subid FROM Subscriptions WHERE id = $1)",
    "DELETE FROM Subscriptions WHERE id = $1",
    "DELETE FROM Messages WHERE id = $1",
    "DELETE FROM Channels WHERE id = $1",
];

// Messages.
const MESSAGE_TOTALS: &str =
    "SELECT id, COUNT(*), MIN(seq), MAX(seq), SUM(size) FROM Messages GROUP BY id";
const STORE_MSG: &str =
    "INSERT INTO Messages (id, seq, timestamp, size, data) VALUES ($1, $2, $3, $4, $5)";
const LOOKUP_MSG: &str = "SELECT data FROM Messages WHERE id = $1 AND seq = $2";
const OLDEST_MSGS: &str =
    "SELECT seq, size FROM Messages WHERE id = $1 AND seq >= $2 AND seq < $3 \
     ORDER BY seq LIMIT 256";
// The queries from the front of a channel start at its first sequence
// (`seq >= $2`): the index entries of the rows deleted before stay until a
// vacuum, and scanning them again would make every deletion slower.
const FIRST_MSG: &str =
    "SELECT seq, timestamp FROM Messages WHERE id = $1 AND seq >= $2 ORDER BY seq LIMIT 1";
const SEQ_AT_TIME: &str =
    "SELECT seq FROM Messages WHERE id = $1 AND seq >= $2 AND timestamp >= $3 \
     ORDER BY seq LIMIT 1";
const DROP_BEFORE_SEQ: &str = "WITH gone AS (DELETE FROM Messages \
     WHERE id = $1 AND seq >= $2 AND seq < $3 RETURNING size) \
     SELECT COUNT(*), COALESCE(SUM(size), 0) FROM gone";
const DROP_UNTIL_TIME: &str = "WITH gone AS (DELETE FROM Messages \
     WHERE id = $1 AND seq >= $2 AND timestamp <= $3 RETURNING size) \
     SELECT COUNT(*), COALESCE(SUM(size), 0) FROM gone";

// Subscriptions and their pending sequences.
const LOAD_SUBS: &str = "SELECT id, subid, lastsent, proto FROM Subscriptions \
     WHERE deleted = FALSE ORDER BY id, subid";
const LOAD_PENDING: &str =
    "SELECT subid, row, seq, lastsent, pending, acks FROM SubsPending ORDER BY subid, row";
const CREATE_SUB: &str = "INSERT INTO Subscriptions (id, subid, lastsent, proto) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (id, subid) DO UPDATE SET lastsent = EXCLUDED.lastsent, proto = EXCLUDED.proto, deleted = FALSE";
const UPDATE_SUB: &str = "INSERT INTO Subscriptions (id, subid, lastsent, proto) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (id, subid) DO UPDATE SET lastsent = GREATEST(Subscriptions.lastsent, EXCLUDED.lastsent), \
     proto = EXCLUDED.proto, deleted = FALSE";
const DELETE_SUB: &str = "DELETE FROM Subscriptions WHERE id = $1 AND subid = $2";
const CLEAR_PENDING: &str = "DELETE FROM SubsPending WHERE subid = $1";
const ADD_PENDING: &str =
    "INSERT INTO SubsPending (subid, row, seq) SELECT $2::BIGINT, $3::BIGINT, $3::BIGINT \
     WHERE EXISTS (SELECT 1 FROM Subscriptions WHERE id = $1 AND subid = $2) \
     ON CONFLICT (subid, row) DO NOTHING";
const WRITE_PENDING: &str = "INSERT INTO SubsPending (subid, row, seq) \
     SELECT $1::BIGINT, s, s FROM unnest($2::BIGINT[]) AS s";
/// Deletes the pending row; records the sequence as the last sent when no
/// higher one is pending (otherwise that one says it at recovery). Rows
/// are looked up by `row`, the key's order, which is the sequence in every
/// row once recovery rewrote upstream's.
const ACK: &str = "WITH acked AS (DELETE FROM SubsPending WHERE subid = $2 AND row = $3) \
     UPDATE Subscriptions SET lastsent = $3 \
     WHERE id = $1 AND subid = $2 AND COALESCE(lastsent, 0) < $3 \
     AND NOT EXISTS (SELECT 1 FROM SubsPending WHERE subid = $2 AND row > $3)";

// The fault-tolerance lock.
const LOCK_TABLE: &str = "LOCK TABLE StoreLock IN SHARE ROW EXCLUSIVE MODE";
const DB_NOW_MS: &str = "SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";
const LOCK_HOLDER: &str = "SELECT id, tick FROM StoreLock LIMIT 1";
const LOCK_INSERT: &str = "INSERT INTO StoreLock (id, tick) VALUES ($1, $2)";
const LOCK_UPDATE: &str =
    "UPDATE StoreLock SET id = $1, tick = GREATEST(COALESCE(tick, 0) + 1, $2)";
const LOCK_RELEASE: &str = "UPDATE StoreLock SET id = '', tick = 0 WHERE id = $1";

/// For a source that sets no `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many of the newest messages each channel keeps in memory, and how
/// many bytes of them at most.
const RECENT_MSGS: usize = 256;
const RECENT_BYTES: usize = 1 << 20;

/// The SQL store's settings besides the data source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SqlOptions {
    /// Commit every statement on its own instead of once per flush
    /// (`--sql_no_caching`).
    pub no_caching: bool,
    /// Keep the tables in this schema (created when missing) instead of the
    /// connection's default `search_path`. Letters, digits and `_` only.
    pub schema: Option<String>,
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        match e.as_db_error() {
            Some(db) => StoreError::Other(format!("sql: {db}")),
            None => StoreError::Other(format!("sql: {e}")),
        }
    }
}

fn other(text: String) -> StoreError {
    StoreError::Other(format!("sql: {text}"))
}

fn corrupt(what: impl Into<String>, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what: what.into(),
        detail: detail.to_string(),
    }
}

/// Column `i` of `row`, with a wrong type or an unexpected NULL as an error.
fn col<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T> {
    Ok(row.try_get(i)?)
}

/// A sequence, id or size for a BIGINT column.
fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| other(format!("{what} {v} does not fit a BIGINT")))
}

/// A BIGINT read back as a sequence, id or size: negative is corrupt.
fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| corrupt(what, format!("negative value {v}")))
}

/// A limit for an informational column: the largest value it holds.
fn clamp_i32(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn clamp_i64(v: u128) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn check_schema_name(name: &str) -> Result<()> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(other(format!(
            "schema name {name:?}: letters, digits and _ only"
        )))
    }
}

/// One connection with its prepared statements.
struct Conn {
    client: Client,
    stmts: HashMap<&'static str, Statement>,
    /// A statement failed since the last check; in a transaction that
    /// aborts it.
    failed: bool,
}

impl Conn {
    fn connect(config: &Config) -> Result<Conn> {
        let client = config.connect(NoTls)?;
        Ok(Conn {
            client,
            stmts: HashMap::new(),
            failed: false,
        })
    }

    fn note<T>(&mut self, r: std::result::Result<T, postgres::Error>) -> Result<T> {
        r.map_err(|e| {
            self.failed = true;
            e.into()
        })
    }

    fn statement(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let r = self.client.prepare(sql);
        let s = self.note(r)?;
        self.stmts.insert(sql, s.clone());
        Ok(s)
    }

    fn exec(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let st = self.statement(sql)?;
        let r = self.client.execute(&st, params);
        self.note(r)
    }

    fn query(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let st = self.statement(sql)?;
        let r = self.client.query(&st, params);
        self.note(r)
    }

    fn query_one(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        let st = self.statement(sql)?;
        let r = self.client.query_one(&st, params);
        self.note(r)
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        let st = self.statement(sql)?;
        let r = self.client.query_opt(&st, params);
        self.note(r)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        let r = self.client.batch_execute(sql);
        self.note(r)
    }
}

/// The newest messages stored by this process, contiguous.
#[derive(Debug, Default)]
struct Recent {
    msgs: VecDeque<MsgProto>,
    bytes: usize,
}

impl Recent {
    fn push(&mut self, m: &MsgProto, size: usize) {
        if self
            .msgs
            .back()
            .is_some_and(|b| b.sequence + 1 != m.sequence)
        {
            self.clear();
        }
        self.msgs.push_back(m.clone());
        self.bytes += size;
        while self.msgs.len() > RECENT_MSGS || self.bytes > RECENT_BYTES {
            match self.msgs.pop_front() {
                Some(old) => self.bytes = self.bytes.saturating_sub(old.encoded_len()),
                None => break,
            }
        }
    }

    fn get(&self, seq: u64) -> Option<&MsgProto> {
        let front = self.msgs.front()?.sequence;
        let i = usize::try_from(seq.checked_sub(front)?).ok()?;
        self.msgs.get(i).filter(|m| m.sequence == seq)
    }

    fn clear(&mut self) {
        self.msgs.clear();
        self.bytes = 0;
    }
}

/// A channel as this process knows it.
#[derive(Debug)]
struct Chan {
    id: i32,
    limits: ChannelLimits,
    stats: ChannelStats,
    /// The first message's timestamp when known: `expire` queries only when
    /// it is due.
    first_ts: Option<i64>,
    recent: Recent,
}

impl Chan {
    fn new(id: i32, limits: ChannelLimits, stats: ChannelStats) -> Chan {
        Chan {
            id,
            limits,
            stats,
            first_ts: None,
            recent: Recent::default(),
        }
    }

    /// Counts `n` messages of `bytes` removed from the front, the first kept
    /// being at least `first`.
    fn dropped(&mut self, n: u64, bytes: u64, first: u64) {
        let st = &mut self.stats;
        st.msgs = st.msgs.saturating_sub(n);
        st.bytes = st.bytes.saturating_sub(bytes);
        st.first = if st.msgs == 0 {
            st.last + 1
        } else {
            st.first.max(first)
        };
        self.first_ts = None;
    }

    fn max_age_ns(&self) -> i64 {
        clamp_i64(self.limits.max_age.as_nanos())
    }

    fn over_bytes(&self) -> bool {
        let (l, st) = (self.limits, self.stats);
        l.max_bytes > 0 && st.bytes > l.max_bytes && st.msgs > 1
    }
}

/// A channel's messages as the aggregate query counts them.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    msgs: u64,
    first: u64,
    last: u64,
    bytes: u64,
}

impl Totals {
    /// The channel's stats, its last sequence at least `floor` (sequences
    /// given before and not in the table any more).
    fn stats(self, floor: u64) -> ChannelStats {
        let last = self.last.max(floor);
        ChannelStats {
            first: if self.msgs == 0 { last + 1 } else { self.first },
            last,
            msgs: self.msgs,
            bytes: self.bytes,
        }
    }
}

/// One subscription's `SubsPending` rows, read.
#[derive(Debug, Default)]
struct PendingRows {
    seqs: BTreeSet<u64>,
    last_sent: u64,
    /// Some row is not of this store's kind `(subid, seq, seq)`.
    foreign: bool,
}

/// Upstream's JSON array of sequences (`null` or empty for none).
fn json_seqs(data: Option<&[u8]>, sub_id: u64) -> Result<Vec<u64>> {
    match data {
        None | Some([]) => Ok(Vec::new()),
        Some(b) => serde_json::from_slice::<Option<Vec<u64>>>(b)
            .map(Option::unwrap_or_default)
            .map_err(|e| corrupt(format!("pending row of subscription {sub_id}"), e)),
    }
}

/// Whether `owner` may take the lock held by `holder` (its id and tick, or
/// no row) at `now`: the lock is free, already `owner`'s, or not renewed
/// for longer than `lease_ms`.
fn lock_is_free(holder: Option<(&str, i64)>, owner: &str, now: i64, lease_ms: i64) -> bool {
    match holder {
        None => true,
        Some((id, tick)) => id.is_empty() || id == owner || now.saturating_sub(tick) > lease_ms,
    }
}

/// [`Store`] in PostgreSQL; see the module documentation.
pub struct SqlStore {
    config: Config,
    opts: SqlOptions,
    /// `None` after the connection dropped: opened again on the next call.
    db: Option<Conn>,
    /// The lock's own connection, opened by the first [`SqlStore::try_lock`].
    lock_db: Option<Client>,
    /// The owner and lease of the lock this store holds, for
    /// [`Store::renew_lock`] and the release when it is dropped.
    held: Option<(String, Duration)>,
    channels: HashMap<String, Chan>,
    next_channel_id: i32,
    /// A transaction is open (the writes since the last flush).
    in_tx: bool,
    /// Why the writes since the last flush were rolled back, for `flush`.
    lost: Option<String>,
    /// The counters must be read again from the database.
    stale: bool,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .field("opts", &self.opts)
            .field("channels", &self.channels.len())
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Connects to `source`, a libpq-style DSN (`host=… dbname=… user=…
    /// sslmode=disable`) or URL (`postgres://user:pass@host:5432/db`), as
    /// nats-streaming-server's `--sql_source`, and creates the missing
    /// tables. TLS is not supported (`sslmode=require` fails). Without a
    /// `connect_timeout` in the source, connecting gives up after 10 s.
    ///
    /// # Errors
    /// A malformed source, a failed connection or schema creation.
    pub fn open(source: &str, opts: SqlOptions) -> Result<SqlStore> {
        let mut config: Config = source
            .parse()
            .map_err(|e| other(format!("invalid source: {e}")))?;
        if let Some(schema) = &opts.schema {
            check_schema_name(schema)?;
            let options = match config.get_options() {
                Some(o) if !o.is_empty() => format!("{o} -c search_path={schema}"),
                _ => format!("-c search_path={schema}"),
            };
            config.options(&options);
        }
        if config.get_connect_timeout().is_none() {
            // The engine waits on it: a host that does not answer fails.
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let db = Conn::connect(&config)?;
        let mut s = SqlStore {
            config,
            opts,
            db: Some(db),
            lock_db: None,
            held: None,
            channels: HashMap::new(),
            next_channel_id: 1,
            in_tx: false,
            lost: None,
            stale: false,
        };
        s.create_schema()?;
        s.next_channel_id = s.max_channel_id()?.saturating_add(1);
        Ok(s)
    }

    /// Creates the tables of upstream's `postgres.db.sql` that are missing
    /// (and the schema of [`SqlOptions::schema`]); with all of them there,
    /// it only reads the catalog.
    ///
    /// # Errors
    /// The database refused (for instance, no right to create tables).
    pub fn create_schema(&mut self) -> Result<()> {
        let schema = self.opts.schema.clone();
        self.run(false, |s| {
            let db = s.db()?;
            if let Some(name) = &schema {
                if col(&db.query_one(SCHEMA_MISSING, &[name])?, 0)? {
                    db.batch(&format!("CREATE SCHEMA IF NOT EXISTS {name}"))?;
                }
            }
            if col(&db.query_one(SCHEMA_COMPLETE, &[])?, 0)? {
                return Ok(());
            }
            db.batch(SCHEMA)
        })
    }

    /// Takes or renews the store lock for `owner` (at most 30 characters,
    /// upstream's column): granted when the lock is free, already
    /// `owner`'s, or its holder has not renewed it for longer than `lease`,
    /// as the database's clock tells. One transaction on the lock's own
    /// connection, the table locked against other takers.
    ///
    /// # Errors
    /// The database could not be reached or refused.
    pub fn try_lock(&mut self, owner: &str, lease: Duration) -> Result<bool> {
        let lease_ms = clamp_i64(lease.as_millis());
        let r = self
            .lock_client()
            .and_then(|c| Ok(take_lock(c, owner, lease_ms)?));
        self.drop_closed_lock_client();
        if let Ok(true) = r {
            self.held = Some((owner.to_owned(), lease));
        }
        r
    }

    /// Gives the lock up when `owner` holds it (at a clean shutdown, so a
    /// standby need not wait for the lease).
    ///
    /// # Errors
    /// The database could not be reached or refused.
    pub fn unlock(&mut self, owner: &str) -> Result<()> {
        let r = self
            .lock_client()
            .and_then(|c| Ok(c.execute(LOCK_RELEASE, &[&owner]).map(drop)?));
        self.drop_closed_lock_client();
        if r.is_ok() && self.held.as_ref().is_some_and(|(o, _)| o == owner) {
            self.held = None;
        }
        r
    }

    fn lock_client(&mut self) -> Result<&mut Client> {
        if self.lock_db.is_none() {
            self.lock_db = Some(self.config.connect(NoTls)?);
        }
        self.lock_db
            .as_mut()
            .ok_or_else(|| other("no lock connection".into()))
    }

    fn drop_closed_lock_client(&mut self) {
        if self.lock_db.as_ref().is_some_and(Client::is_closed) {
            self.lock_db = None;
        }
    }

    fn db(&mut self) -> Result<&mut Conn> {
        self.db
            .as_mut()
            .ok_or_else(|| other("not connected".into()))
    }

    fn chan(&self, name: &str) -> Result<&Chan> {
        self.channels
            .get(name)
            .ok_or_else(|| StoreError::Other(format!("channel {name:?} not found")))
    }

    fn chan_mut(&mut self, name: &str) -> Result<&mut Chan> {
        self.channels
            .get_mut(name)
            .ok_or_else(|| StoreError::Other(format!("channel {name:?} not found")))
    }

    /// Runs `f` on a live connection, in the batch's transaction when it
    /// writes; a statement that fails there rolls the batch back.
    fn run<T>(&mut self, write: bool, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let out = self.begin(write).and_then(|()| f(self));
        let failed = self
            .db
            .as_ref()
            .is_some_and(|c| c.failed || c.client.is_closed());
        if failed {
            let why = match &out {
                Err(e) => e.to_string(),
                Ok(_) => "the connection closed".to_owned(),
            };
            self.abort(why);
        }
        out
    }

    /// Connects again if needed, reads the counters again if they may be
    /// wrong, and begins the batch's transaction for a write.
    fn begin(&mut self, write: bool) -> Result<()> {
        if self.db.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.abort("the connection closed".to_owned());
        }
        if self.db.is_none() {
            self.db = Some(Conn::connect(&self.config)?);
        }
        if self.stale {
            self.resync()?;
        }
        if write && !self.opts.no_caching && !self.in_tx {
            self.db()?.batch("BEGIN")?;
            self.in_tx = true;
        }
        Ok(())
    }

    /// After a failed statement: rolls the batch back, remembers why for
    /// the next flush, and forgets what memory may hold wrongly.
    fn abort(&mut self, why: String) {
        let closed = self.db.as_ref().is_some_and(|c| c.client.is_closed());
        if closed {
            self.db = None;
        } else if let Some(c) = self.db.as_mut() {
            if self.in_tx {
                let _ = c.client.batch_execute("ROLLBACK");
            }
            c.failed = false;
        }
        if self.in_tx && self.lost.is_none() {
            self.lost = Some(why);
        }
        self.in_tx = false;
        self.stale = true;
        for ch in self.channels.values_mut() {
            ch.recent.clear();
            ch.first_ts = None;
        }
        if self.db.is_some() && self.resync().is_err() {
            // Still stale: the next call tries again.
            if let Some(c) = self.db.as_mut() {
                c.failed = false;
            }
        }
    }

    /// Reads the channels' counters again (keeping each last sequence, so
    /// none is given twice) and puts back the channel rows a rollback took.
    fn resync(&mut self) -> Result<()> {
        if self.channels.is_empty() {
            self.stale = false;
            return Ok(());
        }
        let totals = self.message_totals()?;
        let mut rows = Vec::new();
        for ch in self.channels.values_mut() {
            let t = totals.get(&ch.id).copied().unwrap_or_default();
            ch.stats = t.stats(ch.stats.last);
            rows.push((ch.id, ch.limits));
        }
        let names: HashMap<i32, String> = self
            .channels
            .iter()
            .map(|(n, c)| (c.id, n.clone()))
            .collect();
        for (id, limits) in rows {
            let name = names.get(&id).map_or("", String::as_str);
            let (m, b, a) = limit_columns(&limits);
            self.db()?.exec(ENSURE_CHANNEL, &[&id, &name, &m, &b, &a])?;
        }
        self.stale = false;
        Ok(())
    }

    fn max_channel_id(&mut self) -> Result<i32> {
        let row = self.run(false, |s| s.db()?.query_one(MAX_CHANNEL_ID, &[]))?;
        col(&row, 0)
    }

    /// Counts, first and last sequence and bytes of every channel's
    /// messages, by channel id.
    fn message_totals(&mut self) -> Result<HashMap<i32, Totals>> {
        let mut out = HashMap::new();
        for row in self.db()?.query(MESSAGE_TOTALS, &[])? {
            let id: i32 = col(&row, 0)?;
            let seq = |i| -> Result<u64> {
                to_u64(col::<Option<i64>>(&row, i)?.unwrap_or(0), "sequence")
            };
            let t = Totals {
                msgs: to_u64(col(&row, 1)?, "count")?,
                first: seq(2)?,
                last: seq(3)?,
                bytes: to_u64(col::<Option<i64>>(&row, 4)?.unwrap_or(0), "size")?,
            };
            out.insert(id, t);
        }
        Ok(out)
    }

    fn recover_all(&mut self) -> Result<Option<Recovered>> {
        let max_id = col::<i32>(&self.db()?.query_one(MAX_CHANNEL_ID, &[])?, 0)?;
        self.next_channel_id = max_id.saturating_add(1);
        let Some(info) = self.recover_info()? else {
            if max_id > 0 {
                return Err(other("channels are stored but no server info".into()));
            }
            return Ok(None);
        };
        let clients = self.recover_clients()?;
        let totals = self.message_totals()?;
        let mut subs = self.recover_subs()?;
        self.channels.clear();
        let mut channels = Vec::new();
        for row in self.db()?.query(LOAD_CHANNELS, &[])? {
            let id: i32 = col(&row, 0)?;
            let name: String = col(&row, 1)?;
            let maxseq = to_u64(col::<Option<i64>>(&row, 2)?.unwrap_or(0), "maxseq")?;
            let subs = subs.remove(&id).unwrap_or_default();
            let sent = subs.iter().map(|s| s.state.last_sent).max().unwrap_or(0);
            let stats = totals
                .get(&id)
                .copied()
                .unwrap_or_default()
                .stats(maxseq.max(sent));
            let ch = Chan::new(id, ChannelLimits::default(), stats);
            self.channels.insert(name.clone(), ch);
            channels.push(RecoveredChannel { name, subs });
        }
        self.stale = false;
        Ok(Some(Recovered {
            info,
            clients,
            channels,
        }))
    }

    fn recover_info(&mut self) -> Result<Option<ServerInfo>> {
        let Some(row) = self.db()?.query_opt(LOAD_INFO, &[])? else {
            return Ok(None);
        };
        let version: Option<i32> = col(&row, 2)?;
        if version != Some(SQL_VERSION) {
            return Err(other(format!(
                "unsupported version {version:?} (supports {SQL_VERSION})"
            )));
        }
        let proto: Option<Vec<u8>> = col(&row, 1)?;
        let info = ServerInfo::decode(proto.as_deref().unwrap_or_default())
            .map_err(|e| corrupt("server info", e))?;
        let id: Option<String> = col(&row, 0)?;
        if id.as_deref() != Some(info.cluster_id.as_str()) {
            return Err(corrupt(
                "server info",
                format!("id {id:?} is not the cluster ID {:?}", info.cluster_id),
            ));
        }
        Ok(Some(info))
    }

    fn recover_clients(&mut self) -> Result<Vec<ClientInfo>> {
        let mut out = Vec::new();
        for row in self.db()?.query(LOAD_CLIENTS, &[])? {
            let id: String = col(&row, 0)?;
            let proto: Option<Vec<u8>> = col(&row, 2)?;
            let client = match proto.as_deref() {
                Some(p) if !p.is_empty() => {
                    ClientInfo::decode(p).map_err(|e| corrupt(format!("client {id:?}"), e))?
                }
                // Upstream before 0.10 kept only the heartbeat inbox.
                _ => ClientInfo {
                    hb_inbox: col::<Option<String>>(&row, 1)?.unwrap_or_default(),
                    id,
                    ..Default::default()
                },
            };
            out.push(client);
        }
        Ok(out)
    }

    /// The live subscriptions with their pending sequences, by channel id.
    fn recover_subs(&mut self) -> Result<HashMap<i32, Vec<RecoveredSub>>> {
        let mut pending = self.recover_pending()?;
        let mut out: HashMap<i32, Vec<RecoveredSub>> = HashMap::new();
        for row in self.db()?.query(LOAD_SUBS, &[])? {
            let channel: i32 = col(&row, 0)?;
            let sub_id = to_u64(col(&row, 1)?, "subscription id")?;
            let col_sent = to_u64(col::<Option<i64>>(&row, 2)?.unwrap_or(0), "lastsent")?;
            let proto: Option<Vec<u8>> = col(&row, 3)?;
            let Some(proto) = proto.filter(|p| !p.is_empty()) else {
                continue;
            };
            let mut state = SubState::decode(proto.as_slice())
                .map_err(|e| corrupt(format!("subscription {sub_id}"), e))?;
            state.id = sub_id;
            let p = pending.remove(&sub_id).unwrap_or_default();
            if p.foreign {
                self.rewrite_pending(sub_id, &p.seqs)?;
            }
            let top = p.seqs.last().copied().unwrap_or(0);
            state.last_sent = state.last_sent.max(col_sent).max(p.last_sent).max(top);
            out.entry(channel).or_default().push(RecoveredSub {
                state,
                pending: p.seqs,
            });
        }
        Ok(out)
    }

    /// Every `SubsPending` row, by subscription: this store's rows one
    /// sequence each, upstream's cached rows as JSON arrays of pending and
    /// acknowledged sequences applied in row order.
    fn recover_pending(&mut self) -> Result<HashMap<u64, PendingRows>> {
        let mut out: HashMap<u64, PendingRows> = HashMap::new();
        for row in self.db()?.query(LOAD_PENDING, &[])? {
            let sub_id = to_u64(col(&row, 0)?, "subscription id")?;
            let row_id: i64 = col(&row, 1)?;
            let seq = col::<Option<i64>>(&row, 2)?.unwrap_or(0);
            let p = out.entry(sub_id).or_default();
            if seq > 0 {
                p.seqs.insert(to_u64(seq, "pending sequence")?);
                p.foreign |= row_id != seq;
                continue;
            }
            p.foreign = true;
            let sent = col::<Option<i64>>(&row, 3)?.unwrap_or(0);
            p.last_sent = p.last_sent.max(to_u64(sent, "lastsent")?);
            let adds: Option<&[u8]> = col(&row, 4)?;
            let acks: Option<&[u8]> = col(&row, 5)?;
            p.seqs.extend(json_seqs(adds, sub_id)?);
            for s in json_seqs(acks, sub_id)? {
                p.seqs.remove(&s);
            }
        }
        Ok(out)
    }

    /// Replaces a subscription's pending rows with one row per sequence.
    fn rewrite_pending(&mut self, sub_id: u64, seqs: &BTreeSet<u64>) -> Result<()> {
        let sub = to_i64(sub_id, "subscription id")?;
        let seqs = seqs
            .iter()
            .map(|s| to_i64(*s, "sequence"))
            .collect::<Result<Vec<i64>>>()?;
        let db = self.db()?;
        db.exec(CLEAR_PENDING, &[&sub])?;
        db.exec(WRITE_PENDING, &[&sub, &seqs])?;
        Ok(())
    }

    fn add_channel(&mut self, name: &str, limits: &ChannelLimits) -> Result<()> {
        let id = self.next_channel_id;
        let (m, b, a) = limit_columns(limits);
        self.run(true, |s| {
            s.db()?.exec(ADD_CHANNEL, &[&id, &name, &m, &b, &a])
        })?;
        self.next_channel_id = id.saturating_add(1);
        let stats = Totals::default().stats(0);
        self.channels
            .insert(name.to_owned(), Chan::new(id, *limits, stats));
        Ok(())
    }

    /// Appends the row and counts it.
    fn insert_msg(&mut self, channel: &str, msg: &MsgProto) -> Result<()> {
        let data = msg.encode_to_vec();
        let size = i32::try_from(data.len())
            .map_err(|_| other(format!("message of {} bytes is too large", data.len())))?;
        let id = self.chan(channel)?.id;
        let seq = to_i64(msg.sequence, "sequence")?;
        self.db()?
            .exec(STORE_MSG, &[&id, &seq, &msg.timestamp, &size, &data])?;
        let ch = self.chan_mut(channel)?;
        let st = &mut ch.stats;
        if st.msgs == 0 {
            st.first = msg.sequence;
            ch.first_ts = Some(msg.timestamp);
        }
        st.last = msg.sequence;
        st.msgs += 1;
        st.bytes += data.len() as u64;
        ch.recent.push(msg, data.len());
        Ok(())
    }

    /// Deletes the oldest messages over `max_msgs`, then over `max_bytes`,
    /// never the last one.
    fn enforce_limits(&mut self, channel: &str) -> Result<()> {
        let ch = self.chan(channel)?;
        let (l, st) = (ch.limits, ch.stats);
        if l.max_msgs > 0 && st.msgs > l.max_msgs {
            self.drop_before(channel, (st.last + 1).saturating_sub(l.max_msgs))?;
        }
        while self.chan(channel)?.over_bytes() {
            let Some(cut) = self.bytes_cut(channel)? else {
                break;
            };
            if self.drop_before(channel, cut)? == 0 {
                break;
            }
        }
        Ok(())
    }

    /// The first sequence to keep for the channel to fit `max_bytes`, as
    /// far as a page of its oldest messages (never the last) goes.
    fn bytes_cut(&mut self, channel: &str) -> Result<Option<u64>> {
        let ch = self.chan(channel)?;
        let (id, max, st) = (ch.id, ch.limits.max_bytes, ch.stats);
        let (first, last) = (to_i64(st.first, "sequence")?, to_i64(st.last, "sequence")?);
        let rows = self.db()?.query(OLDEST_MSGS, &[&id, &first, &last])?;
        let mut bytes = st.bytes;
        let mut cut = None;
        for row in rows {
            if bytes <= max {
                break;
            }
            let seq = to_u64(col(&row, 0)?, "sequence")?;
            let size = col::<Option<i32>>(&row, 1)?.unwrap_or(0);
            bytes = bytes.saturating_sub(u64::try_from(size).unwrap_or(0));
            cut = Some(seq + 1);
        }
        Ok(cut)
    }

    /// Deletes the messages before `cut`; returns how many went.
    fn drop_before(&mut self, channel: &str, cut: u64) -> Result<u64> {
        let ch = self.chan(channel)?;
        if cut <= ch.stats.first {
            return Ok(0);
        }
        let id = ch.id;
        let first = to_i64(ch.stats.first, "sequence")?;
        let cut_i = to_i64(cut, "sequence")?;
        let row = self
            .db()?
            .query_one(DROP_BEFORE_SEQ, &[&id, &first, &cut_i])?;
        let n = to_u64(col(&row, 0)?, "count")?;
        let bytes = to_u64(col(&row, 1)?, "size")?;
        self.chan_mut(channel)?.dropped(n, bytes, cut);
        Ok(n)
    }

    /// Deletes the messages stamped at or before `cutoff`.
    fn drop_until(&mut self, channel: &str, cutoff: i64) -> Result<()> {
        let ch = self.chan(channel)?;
        let (id, first) = (ch.id, ch.stats.first);
        let first_i = to_i64(first, "sequence")?;
        let row = self
            .db()?
            .query_one(DROP_UNTIL_TIME, &[&id, &first_i, &cutoff])?;
        let n = to_u64(col(&row, 0)?, "count")?;
        let bytes = to_u64(col(&row, 1)?, "size")?;
        self.chan_mut(channel)?.dropped(n, bytes, first);
        self.read_head(channel)?;
        let st = self.chan(channel)?.stats;
        if n > 0 && st.msgs == 0 {
            // Nothing left to say which sequence comes next: record it.
            let last = to_i64(st.last, "sequence")?;
            self.db()?.exec(SAVE_MAXSEQ, &[&id, &last])?;
        }
        Ok(())
    }

    /// Reads the first message's sequence and timestamp.
    fn read_head(&mut self, channel: &str) -> Result<()> {
        let ch = self.chan(channel)?;
        if ch.stats.msgs == 0 {
            return Ok(());
        }
        let id = ch.id;
        let first = to_i64(ch.stats.first, "sequence")?;
        let row = self.db()?.query_opt(FIRST_MSG, &[&id, &first])?;
        let ch = self.chan_mut(channel)?;
        if let Some(row) = row {
            ch.stats.first = to_u64(col(&row, 0)?, "sequence")?;
            ch.first_ts = col(&row, 1)?;
        }
        Ok(())
    }

    /// Writes a subscription's row; a `fresh` one also starts with nothing
    /// pending, whatever an earlier subscription with its id left.
    fn save_sub(&mut self, channel: &str, sub: &SubState, fresh: bool) -> Result<()> {
        let id = self.chan(channel)?.id;
        let sub_id = to_i64(sub.id, "subscription id")?;
        let sent = to_i64(sub.last_sent, "sequence")?;
        let proto = sub.encode_to_vec();
        self.run(true, |s| {
            let db = s.db()?;
            if fresh {
                db.exec(CREATE_SUB, &[&id, &sub_id, &sent, &proto])?;
                db.exec(CLEAR_PENDING, &[&sub_id])?;
            } else {
                db.exec(UPDATE_SUB, &[&id, &sub_id, &sent, &proto])?;
            }
            Ok(())
        })
    }
}

/// `Channels.maxmsgs`, `maxbytes` and `maxage` (informational: the limits
/// in force are the configured ones).
fn limit_columns(l: &ChannelLimits) -> (i32, i64, i64) {
    (
        clamp_i32(l.max_msgs),
        clamp_i64(u128::from(l.max_bytes)),
        clamp_i64(l.max_age.as_nanos()),
    )
}

/// The lock decision in one transaction, the table locked against other
/// takers until it commits.
fn take_lock(
    c: &mut Client,
    owner: &str,
    lease_ms: i64,
) -> std::result::Result<bool, postgres::Error> {
    let mut tx = c.transaction()?;
    tx.batch_execute(LOCK_TABLE)?;
    let now: i64 = tx.query_one(DB_NOW_MS, &[])?.try_get(0)?;
    let holder = tx.query_opt(LOCK_HOLDER, &[])?;
    let held = match &holder {
        Some(row) => Some((
            row.try_get::<_, Option<String>>(0)?.unwrap_or_default(),
            row.try_get::<_, Option<i64>>(1)?.unwrap_or(0),
        )),
        None => None,
    };
    let free = lock_is_free(
        held.as_ref().map(|(id, tick)| (id.as_str(), *tick)),
        owner,
        now,
        lease_ms,
    );
    if free {
        let sql = if holder.is_none() {
            LOCK_INSERT
        } else {
            LOCK_UPDATE
        };
        tx.execute(sql, &[&owner, &now])?;
    }
    tx.commit()?;
    Ok(free)
}

impl Store for SqlStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Sql
    }

    fn recover(&mut self) -> Result<Option<Recovered>> {
        self.run(true, Self::recover_all)
    }

    fn init(&mut self, info: &ServerInfo) -> Result<()> {
        let proto = info.encode_to_vec();
        self.run(true, |s| {
            s.db()?
                .exec(SAVE_INFO, &[&info.cluster_id, &proto, &SQL_VERSION])
        })?;
        Ok(())
    }

    fn add_client(&mut self, client: &ClientInfo) -> Result<()> {
        let proto = client.encode_to_vec();
        self.run(true, |s| {
            s.db()?
                .exec(SAVE_CLIENT, &[&client.id, &client.hb_inbox, &proto])
        })?;
        Ok(())
    }

    fn delete_client(&mut self, id: &str) -> Result<()> {
        self.run(true, |s| s.db()?.exec(DELETE_CLIENT, &[&id]))?;
        Ok(())
    }

    fn create_channel(&mut self, name: &str, limits: &ChannelLimits) -> Result<()> {
        let Some(ch) = self.channels.get_mut(name) else {
            return self.add_channel(name, limits);
        };
        ch.limits = *limits;
        let id = ch.id;
        let (m, b, a) = limit_columns(limits);
        self.run(true, |s| {
            s.db()?.exec(SAVE_LIMITS, &[&id, &m, &b, &a])?;
            s.enforce_limits(name)
        })
    }

    fn delete_channel(&mut self, name: &str) -> Result<()> {
        let Some(id) = self.channels.get(name).map(|c| c.id) else {
            return Ok(());
        };
        self.run(true, |s| {
            for sql in DELETE_CHANNEL {
                s.db()?.exec(sql, &[&id])?;
            }
            Ok(())
        })?;
        self.channels.remove(name);
        Ok(())
    }

    fn store_msg(&mut self, channel: &str, msg: &MsgProto) -> Result<()> {
        let last = self.chan(channel)?.stats.last;
        if msg.sequence <= last {
            return Err(StoreError::Other(format!(
                "channel {channel:?}: sequence {} is not after the last one, {last}",
                msg.sequence
            )));
        }
        self.run(true, |s| {
            s.insert_msg(channel, msg)?;
            s.enforce_limits(channel)
        })
    }

    fn lookup(&mut self, channel: &str, seq: u64) -> Result<Option<MsgProto>> {
        let ch = self.chan(channel)?;
        if seq < ch.stats.first || seq > ch.stats.last {
            return Ok(None);
        }
        if let Some(m) = ch.recent.get(seq) {
            return Ok(Some(m.clone()));
        }
        let id = ch.id;
        let seq_i = to_i64(seq, "sequence")?;
        let row = self.run(false, |s| s.db()?.query_opt(LOOKUP_MSG, &[&id, &seq_i]))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let data: Option<&[u8]> = col(&row, 0)?;
        let m = MsgProto::decode(data.unwrap_or_default())
            .map_err(|e| corrupt(format!("message {seq} of {channel:?}"), e))?;
        Ok(Some(m))
    }

    fn stats(&self, channel: &str) -> ChannelStats {
        self.channels
            .get(channel)
            .map(|c| c.stats)
            .unwrap_or_default()
    }

    fn first_seq_at_or_after(&mut self, channel: &str, timestamp: i64) -> Result<u64> {
        let ch = self.chan(channel)?;
        let (id, st) = (ch.id, ch.stats);
        if st.msgs == 0 {
            return Ok(st.last + 1);
        }
        let first = to_i64(st.first, "sequence")?;
        let row = self.run(false, |s| {
            s.db()?.query_opt(SEQ_AT_TIME, &[&id, &first, &timestamp])
        })?;
        match row {
            Some(row) => to_u64(col(&row, 0)?, "sequence"),
            None => Ok(st.last + 1),
        }
    }

    fn expire(&mut self, channel: &str, now: i64) -> Result<()> {
        let ch = self.chan(channel)?;
        let age = ch.max_age_ns();
        if age == 0 || ch.stats.msgs == 0 {
            return Ok(());
        }
        let cutoff = now.saturating_sub(age);
        if ch.first_ts.is_some_and(|t| t > cutoff) {
            return Ok(());
        }
        self.run(true, |s| s.drop_until(channel, cutoff))
    }

    fn create_sub(&mut self, channel: &str, sub: &SubState) -> Result<()> {
        self.save_sub(channel, sub, true)
    }

    fn update_sub(&mut self, channel: &str, sub: &SubState) -> Result<()> {
        self.save_sub(channel, sub, false)
    }

    fn delete_sub(&mut self, channel: &str, sub_id: u64) -> Result<()> {
        let id = self.chan(channel)?.id;
        let sub = to_i64(sub_id, "subscription id")?;
        self.run(true, |s| {
            let db = s.db()?;
            db.exec(DELETE_SUB, &[&id, &sub])?;
            db.exec(CLEAR_PENDING, &[&sub])?;
            Ok(())
        })
    }

    fn add_pending(&mut self, channel: &str, sub_id: u64, seq: u64) -> Result<()> {
        let id = self.chan(channel)?.id;
        let (sub, seq) = (to_i64(sub_id, "subscription id")?, to_i64(seq, "sequence")?);
        self.run(true, |s| s.db()?.exec(ADD_PENDING, &[&id, &sub, &seq]))?;
        Ok(())
    }

    fn ack(&mut self, channel: &str, sub_id: u64, seq: u64) -> Result<()> {
        let id = self.chan(channel)?.id;
        let (sub, seq) = (to_i64(sub_id, "subscription id")?, to_i64(seq, "sequence")?);
        self.run(true, |s| s.db()?.exec(ACK, &[&id, &sub, &seq]))?;
        Ok(())
    }

    /// Commits the batch's transaction; fails when the batch (or part of
    /// it) was rolled back since the last flush.
    fn flush(&mut self) -> Result<()> {
        let committed = if self.in_tx {
            let r = self.run(false, |s| s.db()?.batch("COMMIT"));
            self.in_tx = false;
            r
        } else {
            Ok(())
        };
        let lost = self.lost.take();
        committed?;
        match lost {
            Some(why) => Err(other(format!(
                "the changes since the last flush were rolled back: {why}"
            ))),
            None => Ok(()),
        }
    }

    /// Renews the lock taken with [`SqlStore::try_lock`]; `true` when this
    /// store took none.
    fn renew_lock(&mut self) -> Result<bool> {
        match self.held.clone() {
            Some((owner, lease)) => self.try_lock(&owner, lease),
            None => Ok(true),
        }
    }
}

impl Drop for SqlStore {
    /// Releases the lock this store holds, so a standby need not wait for
    /// the lease (the uncommitted batch, if any, is rolled back with the
    /// connection).
    fn drop(&mut self) {
        if let Some((owner, _)) = self.held.clone() {
            let _ = self.unlock(&owner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A schema of its own in the database of `RNATS_TEST_POSTGRES`,
    /// dropped at the end.
    struct TestDb {
        dsn: String,
        schema: String,
    }

    impl TestDb {
        fn new() -> Option<TestDb> {
            match std::env::var("RNATS_TEST_POSTGRES") {
                Ok(dsn) if !dsn.trim().is_empty() => Some(TestDb {
                    dsn,
                    schema: format!("t_{:016x}", rand::random::<u64>()),
                }),
                _ => {
                    println!("skipped: RNATS_TEST_POSTGRES not set");
                    None
                }
            }
        }

        fn open(&self) -> SqlStore {
            let opts = SqlOptions {
                schema: Some(self.schema.clone()),
                ..Default::default()
            };
            SqlStore::open(&self.dsn, opts).expect("open the SQL store")
        }

        /// A plain connection to the test's schema, to look at the rows.
        fn client(&self) -> Client {
            let mut c = Client::connect(&self.dsn, NoTls).expect("connect");
            c.batch_execute(&format!("SET search_path TO {}", self.schema))
                .expect("search_path");
            c
        }

        fn count(&self, sql: &str) -> i64 {
            self.client().query_one(sql, &[]).expect(sql).get(0)
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            if let Ok(mut c) = Client::connect(&self.dsn, NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
            }
        }
    }

    use crate::streaming::store::test_records::{info, msg};

    fn sub(id: u64, durable: &str) -> SubState {
        SubState {
            id,
            client_id: "me".into(),
            inbox: "_INBOX.x".into(),
            ack_inbox: format!("_STAN.acks.{id}"),
            max_in_flight: 10,
            ack_wait_secs: 30,
            durable_name: durable.into(),
            is_durable: !durable.is_empty(),
            ..Default::default()
        }
    }

    fn stats3(st: ChannelStats) -> (u64, u64, u64) {
        (st.first, st.last, st.msgs)
    }

    #[test]
    fn lock_decision() {
        // Free, ours, or stale: taken; another owner's fresh tick: refused.
        assert!(lock_is_free(None, "a", 1000, 500));
        assert!(lock_is_free(Some(("", 990)), "a", 1000, 500));
        assert!(lock_is_free(Some(("a", 990)), "a", 1000, 500));
        assert!(!lock_is_free(Some(("b", 990)), "a", 1000, 500));
        assert!(!lock_is_free(Some(("b", 500)), "a", 1000, 500));
        assert!(lock_is_free(Some(("b", 499)), "a", 1000, 500));
    }

    #[test]
    fn bad_sources_and_schema_names_are_errors() {
        let opts = SqlOptions::default();
        assert!(
            SqlStore::open("postgres://u@127.0.0.1:1/db?sslmode=disable", opts.clone()).is_err()
        );
        assert!(SqlStore::open("host=127.0.0.1 port=nope", opts).is_err());
        assert!(check_schema_name("t_1a").is_ok());
        for bad in ["", "1t", "a b", "a;drop", "a-b"] {
            assert!(check_schema_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn upstream_json_pending_rows_decode() {
        assert_eq!(json_seqs(Some(b"[3,1,2]"), 1).unwrap(), vec![3, 1, 2]);
        assert!(json_seqs(Some(b"null"), 1).unwrap().is_empty());
        assert!(json_seqs(None, 1).unwrap().is_empty());
        assert!(json_seqs(Some(b"[x"), 1).is_err());
    }

    #[test]
    fn round_trip_across_reopen() {
        let Some(t) = TestDb::new() else { return };
        let mut s = t.open();
        assert_eq!(s.kind(), StoreKind::Sql);
        assert!(s.recover().unwrap().is_none());
        s.init(&info()).unwrap();
        let alice = ClientInfo {
            id: "alice".into(),
            hb_inbox: "_INBOX.hb.a".into(),
            conn_id: b"conn-a".to_vec(),
            protocol: 1,
            ping_interval: 5,
            ping_max_out: 3,
        };
        s.add_client(&alice).unwrap();
        s.add_client(&ClientInfo {
            id: "bob".into(),
            ..Default::default()
        })
        .unwrap();
        s.delete_client("bob").unwrap();
        s.create_channel("foo", &ChannelLimits::default()).unwrap();
        assert_eq!(stats3(s.stats("foo")), (1, 0, 0));
        for i in 1..=3 {
            s.store_msg("foo", &msg(i, 100 * i as i64, b"hello"))
                .unwrap();
        }
        s.create_sub("foo", &sub(7, "dur")).unwrap();
        s.create_sub("foo", &sub(8, "")).unwrap();
        for seq in 1..=3 {
            s.add_pending("foo", 7, seq).unwrap();
        }
        s.ack("foo", 7, 2).unwrap();
        s.add_pending("foo", 8, 1).unwrap();
        s.ack("foo", 8, 1).unwrap();
        let mut closed = sub(7, "dur");
        closed.is_closed = true;
        s.update_sub("foo", &closed).unwrap();
        s.flush().unwrap();
        // Not flushed: gone with the connection.
        s.store_msg("foo", &msg(4, 400, b"lost")).unwrap();
        drop(s);

        let mut s = t.open();
        let r = s.recover().unwrap().expect("recovered state");
        assert_eq!(r.info, info());
        assert_eq!(r.clients, vec![alice]);
        assert_eq!(r.channels.len(), 1);
        assert_eq!(r.channels[0].name, "foo");
        let subs = &r.channels[0].subs;
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[0].state.id, 7);
        assert!(subs[0].state.is_closed);
        assert_eq!(subs[0].state.last_sent, 3);
        assert_eq!(subs[0].pending, BTreeSet::from([1, 3]));
        assert_eq!(subs[1].state.id, 8);
        assert_eq!(subs[1].state.last_sent, 1, "an ack records the last sent");
        assert!(subs[1].pending.is_empty());
        let st = s.stats("foo");
        assert_eq!((st.first, st.last, st.msgs), (1, 3, 3));
        let bytes: u64 = (1..=3)
            .map(|i| super::super::memory::msg_size(&msg(i, 100 * i as i64, b"hello")))
            .sum();
        assert_eq!(st.bytes, bytes);
        s.create_channel("foo", &ChannelLimits::default()).unwrap();
        assert_eq!(s.lookup("foo", 2).unwrap(), Some(msg(2, 200, b"hello")));
        assert_eq!(s.lookup("foo", 4).unwrap(), None);
        s.store_msg("foo", &msg(4, 400, b"again")).unwrap();
        s.delete_sub("foo", 8).unwrap();
        s.flush().unwrap();
        drop(s);

        let mut s = t.open();
        let r = s.recover().unwrap().unwrap();
        assert_eq!(r.channels[0].subs.len(), 1);
        assert_eq!(stats3(s.stats("foo")), (1, 4, 4));
        assert_eq!(s.lookup("foo", 4).unwrap(), Some(msg(4, 400, b"again")));
    }

    #[test]
    fn limits_apply_and_sequences_are_not_reused_after_reopen() {
        let Some(t) = TestDb::new() else { return };
        let mut s = t.open();
        s.init(&info()).unwrap();
        let size = super::super::memory::msg_size(&msg(1, 1, b"0123456789"));
        let limits = ChannelLimits {
            max_msgs: 3,
            max_bytes: 2 * size,
            max_age: Duration::from_nanos(50),
            ..Default::default()
        };
        s.create_channel("foo", &limits).unwrap();
        for i in 1..=5 {
            s.store_msg("foo", &msg(i, 100 + i as i64, b"0123456789"))
                .unwrap();
        }
        // max_bytes holds two of them.
        let st = s.stats("foo");
        assert_eq!((st.first, st.last, st.msgs, st.bytes), (4, 5, 2, 2 * size));
        assert_eq!(s.lookup("foo", 3).unwrap(), None);
        assert_eq!(s.lookup("foo", 4).unwrap().unwrap().sequence, 4);
        assert!(s.store_msg("foo", &msg(5, 1, b"dup")).is_err());
        s.flush().unwrap();
        assert_eq!(t.count("SELECT COUNT(*) FROM Messages"), 2);

        // max_msgs alone.
        let by_count = ChannelLimits {
            max_msgs: 1,
            ..limits
        };
        s.create_channel("foo", &by_count).unwrap();
        assert_eq!(stats3(s.stats("foo")), (5, 5, 1));

        // max_age: nothing due, then everything.
        s.expire("foo", 150).unwrap();
        assert_eq!(stats3(s.stats("foo")), (5, 5, 1));
        s.expire("foo", 155).unwrap();
        assert_eq!(stats3(s.stats("foo")), (6, 5, 0));
        s.flush().unwrap();
        drop(s);

        let mut s = t.open();
        let r = s.recover().unwrap().unwrap();
        assert_eq!(r.channels[0].name, "foo");
        let st = s.stats("foo");
        assert_eq!((st.first, st.last, st.msgs, st.bytes), (6, 5, 0, 0));
        s.create_channel("foo", &limits).unwrap();
        s.store_msg("foo", &msg(6, 1000, b"next")).unwrap();
        s.flush().unwrap();
        assert_eq!(stats3(s.stats("foo")), (6, 6, 1));
    }

    #[test]
    fn first_seq_at_or_after_a_time() {
        let Some(t) = TestDb::new() else { return };
        let mut s = t.open();
        s.init(&info()).unwrap();
        s.create_channel("foo", &ChannelLimits::default()).unwrap();
        assert_eq!(s.first_seq_at_or_after("foo", 0).unwrap(), 1);
        for i in 1..=4 {
            s.store_msg("foo", &msg(i, 10 * i as i64, b"x")).unwrap();
        }
        assert_eq!(s.first_seq_at_or_after("foo", 0).unwrap(), 1);
        assert_eq!(s.first_seq_at_or_after("foo", 20).unwrap(), 2);
        assert_eq!(s.first_seq_at_or_after("foo", 21).unwrap(), 3);
        assert_eq!(s.first_seq_at_or_after("foo", 41).unwrap(), 5);
        assert!(s.first_seq_at_or_after("nope", 0).is_err());
    }

    #[test]
    fn delete_channel_removes_its_rows() {
        let Some(t) = TestDb::new() else { return };
        let mut s = t.open();
        s.init(&info()).unwrap();
        s.create_channel("foo", &ChannelLimits::default()).unwrap();
        s.create_channel("bar", &ChannelLimits::default()).unwrap();
        for ch in ["foo", "bar"] {
            s.store_msg(ch, &msg(1, 1, b"x")).unwrap();
        }
        s.create_sub("foo", &sub(1, "d")).unwrap();
        s.add_pending("foo", 1, 1).unwrap();
        s.create_sub("bar", &sub(2, "")).unwrap();
        s.add_pending("bar", 2, 1).unwrap();
        s.flush().unwrap();
        s.delete_channel("foo").unwrap();
        s.delete_channel("never").unwrap();
        assert_eq!(s.stats("foo"), ChannelStats::default());
        assert!(s.lookup("foo", 1).is_err());
        s.flush().unwrap();
        assert_eq!(t.count("SELECT COUNT(*) FROM Channels"), 1);
        assert_eq!(t.count("SELECT COUNT(*) FROM Messages"), 1);
        assert_eq!(t.count("SELECT COUNT(*) FROM Subscriptions"), 1);
        assert_eq!(t.count("SELECT COUNT(*) FROM SubsPending"), 1);
        drop(s);

        let mut s = t.open();
        let r = s.recover().unwrap().unwrap();
        let names: Vec<&str> = r.channels.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["bar"]);
        // A new "foo" starts afresh, with a new id.
        s.create_channel("foo", &ChannelLimits::default()).unwrap();
        assert_eq!(stats3(s.stats("foo")), (1, 0, 0));
        s.store_msg("foo", &msg(1, 1, b"y")).unwrap();
        s.flush().unwrap();
        assert_eq!(t.count("SELECT MAX(id)::BIGINT FROM Channels"), 3);
    }

    /// nats-streaming-server's `scripts/postgres.db.sql`, as it is.
    const UPSTREAM_SCRIPT: &str = "
CREATE TABLE IF NOT EXISTS ServerInfo (uniquerow INTEGER DEFAULT 1, id VARCHAR(1024), proto BYTEA, version INTEGER, PRIMARY KEY (uniquerow));
CREATE TABLE IF NOT EXISTS Clients (id VARCHAR(1024), hbinbox TEXT, PRIMARY KEY (id));
CREATE TABLE IF NOT EXISTS Channels (id INTEGER, name VARCHAR(1024) NOT NULL, maxseq BIGINT DEFAULT 0, maxmsgs INTEGER DEFAULT 0, maxbytes BIGINT DEFAULT 0, maxage BIGINT DEFAULT 0, deleted BOOL DEFAULT FALSE, PRIMARY KEY (id));
CREATE INDEX Idx_ChannelsName ON Channels (name(256));
CREATE TABLE IF NOT EXISTS Messages (id INTEGER, seq BIGINT, timestamp BIGINT, size INTEGER, data BYTEA, CONSTRAINT PK_MsgKey PRIMARY KEY(id, seq));
CREATE INDEX Idx_MsgsTimestamp ON Messages (timestamp);
CREATE TABLE IF NOT EXISTS Subscriptions (id INTEGER, subid BIGINT, lastsent BIGINT DEFAULT 0, proto BYTEA, deleted BOOL DEFAULT FALSE, CONSTRAINT PK_SubKey PRIMARY KEY(id, subid));
CREATE TABLE IF NOT EXISTS SubsPending (subid BIGINT, row BIGINT, seq BIGINT DEFAULT 0, lastsent BIGINT DEFAULT 0, pending BYTEA, acks BYTEA, CONSTRAINT PK_MsgPendingKey PRIMARY KEY(subid, row));
CREATE INDEX Idx_SubsPendingSeq ON SubsPending (seq);
CREATE TABLE IF NOT EXISTS StoreLock (id VARCHAR(30), tick BIGINT DEFAULT 0);

-- Updates for 0.10.0
ALTER TABLE Clients ADD proto BYTEA;
";

    #[test]
    fn works_on_the_tables_of_upstreams_script() {
        let Some(t) = TestDb::new() else { return };
        let mut c = Client::connect(&t.dsn, NoTls).unwrap();
        c.batch_execute(&format!(
            "CREATE SCHEMA {0}; SET search_path TO {0}; {UPSTREAM_SCRIPT}",
            t.schema
        ))
        .unwrap();
        let mut s = t.open();
        assert!(s.recover().unwrap().is_none());
        s.init(&info()).unwrap();
        s.add_client(&ClientInfo {
            id: "c".into(),
            ..Default::default()
        })
        .unwrap();
        s.create_channel("foo", &ChannelLimits::default()).unwrap();
        s.store_msg("foo", &msg(1, 1, b"x")).unwrap();
        s.create_sub("foo", &sub(1, "d")).unwrap();
        s.add_pending("foo", 1, 1).unwrap();
        s.flush().unwrap();
        drop(s);
        let mut s = t.open();
        let r = s.recover().unwrap().unwrap();
        assert_eq!(r.clients.len(), 1);
        assert_eq!(r.channels[0].subs[0].pending, BTreeSet::from([1]));
        assert_eq!(s.lookup("foo", 1).unwrap().unwrap().data, b"x");
    }

    #[test]
    fn lock_is_exclusive_until_the_lease_expires() {
        let Some(t) = TestDb::new() else { return };
        let mut a = t.open();
        let mut b = t.open();
        let lease = Duration::from_millis(400);
        assert!(a.try_lock("server-a", lease).unwrap());
        assert!(!b.try_lock("server-b", lease).unwrap());
        std::thread::sleep(Duration::from_millis(250));
        assert!(a.try_lock("server-a", lease).unwrap(), "renewal");
        std::thread::sleep(Duration::from_millis(250));
        assert!(!b.try_lock("server-b", lease).unwrap(), "renewed in time");
        std::thread::sleep(Duration::from_millis(500));
        assert!(b.try_lock("server-b", lease).unwrap(), "lease expired");
        assert!(!a.try_lock("server-a", lease).unwrap());
        assert_eq!(t.count("SELECT COUNT(*) FROM StoreLock"), 1);
        // A clean release frees it at once.
        a.unlock("server-a").unwrap();
        assert!(!a.try_lock("server-a", lease).unwrap(), "not a's to free");
        b.unlock("server-b").unwrap();
        assert!(a.try_lock("server-a", lease).unwrap());
        // The tick only advances.
        let tick = t.count("SELECT tick FROM StoreLock");
        assert!(a.try_lock("server-a", lease).unwrap());
        assert!(t.count("SELECT tick FROM StoreLock") > tick);
        // The engine renews through the trait; dropping the store frees it.
        assert!(a.renew_lock().unwrap());
        assert!(b.renew_lock().unwrap(), "b holds nothing to renew");
        assert!(!b.try_lock("server-b", lease).unwrap());
        drop(a);
        assert!(b.try_lock("server-b", lease).unwrap());
        // A store that lost its lock is told so by the renewal.
        let mut c = t.open();
        std::thread::sleep(Duration::from_millis(500));
        assert!(c.try_lock("server-c", lease).unwrap());
        assert!(!b.renew_lock().unwrap(), "lost to c");
        assert!(c.renew_lock().unwrap());
    }

    #[test]
    fn upstream_pending_rows_are_recovered_and_rewritten() {
        let Some(t) = TestDb::new() else { return };
        let mut s = t.open();
        s.init(&info()).unwrap();
        s.create_channel("foo", &ChannelLimits::default()).unwrap();
        s.create_sub("foo", &sub(5, "d")).unwrap();
        s.flush().unwrap();
        // Upstream's cached rows (JSON arrays) and a no-caching row whose
        // row number is not its sequence.
        t.client()
            .batch_execute(
                "INSERT INTO SubsPending (subid, row, seq, lastsent, pending, acks) VALUES \
                 (5, 1, 0, 4, '[1,2,3,4]', NULL), \
                 (5, 2, 0, 6, '[5,6]', '[2,5]'), \
                 (5, 3, 9, 0, NULL, NULL)",
            )
            .unwrap();
        drop(s);

        let mut s = t.open();
        let r = s.recover().unwrap().unwrap();
        let rs = &r.channels[0].subs[0];
        assert_eq!(rs.pending, BTreeSet::from([1, 3, 4, 6, 9]));
        assert_eq!(rs.state.last_sent, 9);
        s.ack("foo", 5, 3).unwrap();
        s.flush().unwrap();
        assert_eq!(
            t.count("SELECT COUNT(*) FROM SubsPending WHERE subid = 5 AND row = seq"),
            4
        );
        assert_eq!(t.count("SELECT COUNT(*) FROM SubsPending"), 4);
    }

    #[test]
    fn a_failed_statement_rolls_the_batch_back_and_flush_says_so() {
        let Some(t) = TestDb::new() else { return };
        let mut s = t.open();
        s.init(&info()).unwrap();
        s.create_channel("foo", &ChannelLimits::default()).unwrap();
        s.store_msg("foo", &msg(1, 1, b"kept")).unwrap();
        s.flush().unwrap();
        s.store_msg("foo", &msg(2, 2, b"rolled back")).unwrap();
        // Clients.id is VARCHAR(1024).
        let long = ClientInfo {
            id: "x".repeat(2000),
            ..Default::default()
        };
        assert!(s.add_client(&long).is_err());
        let st = s.stats("foo");
        assert_eq!(
            (st.first, st.last, st.msgs),
            (1, 2, 1),
            "re-read, last kept"
        );
        s.store_msg("foo", &msg(3, 3, b"after")).unwrap();
        let e = s.flush().unwrap_err().to_string();
        assert!(e.contains("rolled back"), "{e}");
        s.flush().unwrap();
        assert_eq!(t.count("SELECT COUNT(*) FROM Messages"), 2);
        assert_eq!(s.lookup("foo", 2).unwrap(), None);
        assert_eq!(s.lookup("foo", 3).unwrap().unwrap().data, b"after");
    }

    #[test]
    fn a_dropped_connection_is_opened_again() {
        let Some(t) = TestDb::new() else { return };
        let mut s = t.open();
        s.init(&info()).unwrap();
        s.create_channel("foo", &ChannelLimits::default()).unwrap();
        s.store_msg("foo", &msg(1, 1, b"a")).unwrap();
        s.flush().unwrap();
        s.store_msg("foo", &msg(2, 2, b"b")).unwrap();
        let conn = s.db.as_mut().expect("connected");
        let pid: i32 = conn
            .client
            .query_one("SELECT pg_backend_pid()", &[])
            .unwrap()
            .get(0);
        t.client()
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .unwrap();
        assert!(s.flush().is_err(), "the open batch is lost");
        s.store_msg("foo", &msg(3, 3, b"c")).unwrap();
        s.flush().unwrap();
        assert_eq!(stats3(s.stats("foo")), (1, 3, 2));
        assert_eq!(t.count("SELECT COUNT(*) FROM Messages"), 2);
    }

    #[test]
    fn no_caching_commits_every_statement() {
        let Some(t) = TestDb::new() else { return };
        let opts = SqlOptions {
            no_caching: true,
            schema: Some(t.schema.clone()),
        };
        let mut s = SqlStore::open(&t.dsn, opts).unwrap();
        s.init(&info()).unwrap();
        s.create_channel("foo", &ChannelLimits::default()).unwrap();
        s.store_msg("foo", &msg(1, 1, b"a")).unwrap();
        assert_eq!(t.count("SELECT COUNT(*) FROM Messages"), 1);
        s.flush().unwrap();
    }
}
