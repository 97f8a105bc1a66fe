//! The SQLite database: opening, seeding, and a small connection pool.
//!
//! "In memory" databases live in a temporary file that is deleted when the
//! sim stops: SQLite's shared-cache in-memory mode locks whole tables and
//! makes readers fail while a write is in progress, whereas a WAL-mode file
//! lets any number of readers run beside the single writer. The pages stay
//! in the OS cache, so this is as fast as memory for our sizes.

pub mod functions;
pub mod records;
pub mod schema;
pub mod seed;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult, SimError};

/// Number of read-only connections; requests beyond it wait for one.
const READERS: usize = 4;

/// The database shared by all requests.
pub struct Db {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    reader_slots: Semaphore,
    writer: Mutex<Connection>,
    /// Keeps the temporary directory (and the database in it) alive; last,
    /// so that the connections close before the directory is removed.
    _temp: Option<tempfile::TempDir>,
}

/// Configures a connection the same way for readers, the writer and seeding.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(64);
    functions::register(conn)
}

fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    Ok(conn)
}

impl Db {
    /// Opens (and, when new, creates and seeds) the database. Blocking.
    pub fn open(
        db: Option<&Path>,
        scale: usize,
        seed: u64,
        instance: &str,
    ) -> Result<Db, SimError> {
        let (path, temp) = match db {
            Some(p) => (p.to_path_buf(), None),
            None => {
                let dir = tempfile::Builder::new().prefix("zeyos-sim-").tempdir()?;
                (dir.path().join("zeyos-sim.sqlite"), Some(dir))
            }
        };
        let writer = Connection::open(&path)?;
        configure(&writer)?;
        let seeded: Option<String> = writer
            .query_row("SELECT value FROM _meta WHERE key = 'layout'", [], |r| {
                r.get(0)
            })
            .ok();
        match seeded {
            Some(v) if v == schema::LAYOUT_VERSION => {
                tracing::info!(path = %path.display(), "reusing existing database");
            }
            Some(v) => {
                return Err(SimError::InvalidDatabase(format!(
                    "{} has layout version {v}, expected {}",
                    path.display(),
                    schema::LAYOUT_VERSION
                )))
            }
            None => {
                let has_tables: i64 = writer.query_row(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
                    [],
                    |r| r.get(0),
                )?;
                if has_tables > 0 {
                    return Err(SimError::InvalidDatabase(format!(
                        "{} is not empty and was not written by zeyos-sim",
                        path.display()
                    )));
                }
                let started = std::time::Instant::now();
                seed::create_and_seed(&writer, scale, seed, instance)?;
                tracing::info!(
                    scale,
                    seed,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "seeded database"
                );
            }
        }
        writer.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(open_reader(&path)?);
        }
        Ok(Db {
            path,
            _temp: temp,
            readers: Mutex::new(readers),
            reader_slots: Semaphore::new(READERS),
            writer: Mutex::new(writer),
        })
    }

    /// The database file (a temporary one for in-memory configurations).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a read-only connection on the blocking pool.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> ApiResult<T> + Send + 'static,
    {
        let _permit = self
            .reader_slots
            .acquire()
            .await
            .map_err(|e| ApiError::Internal(format!("reader pool closed: {e}")))?;
        let db = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = db.take_reader()?;
            let result = f(&conn);
            db.return_reader(conn);
            result
        })
        .await?
    }

    /// Runs `f` with the single writer connection on the blocking pool, so
    /// that writes are serialized. `f` opens its own transaction.
    pub async fn write<T, F>(self: &Arc<Self>, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> ApiResult<T> + Send + 'static,
    {
        let db = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock poisons it; the connection itself
            // is still usable (SQLite rolls back an open transaction when the
            // `Transaction` guard is dropped during unwinding).
            let mut conn = db.writer.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await?
    }

    /// Runs `f` on a reader synchronously (for the test oracle).
    pub fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> ApiResult<T>) -> ApiResult<T> {
        let conn = self.take_reader()?;
        let result = f(&conn);
        self.return_reader(conn);
        result
    }

    fn take_reader(&self) -> ApiResult<Connection> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(c) => Ok(c),
            // A connection lost to a panic is replaced.
            None => Ok(open_reader(&self.path)?),
        }
    }

    fn return_reader(&self, conn: Connection) {
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < READERS {
            pool.push(conn);
        }
    }
}
