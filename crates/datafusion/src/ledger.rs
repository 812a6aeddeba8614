//! Where embedded DataFusion keeps privacy budgets and the audit log, and who is charged.
//!
//! * Ledger: the `veil.ledger` setting, else the `VEIL_LEDGER` environment variable, else
//!   `<data dir>/veil/ledger.sqlite` (`~/.local/share/veil/ledger.sqlite` on Linux). The
//!   value `:memory:` selects a ledger in process memory, shared by the process's sessions
//!   and lost at exit — only when chosen explicitly.
//! * Principal: the `veil.principal` setting, else the OS user (from the
//!   system's user database, not the environment).
//!
//! Embedded mode trusts its caller: whoever runs SQL in the session can `SET veil.principal`,
//! point `veil.ledger` elsewhere and call `veil_budget_grant`. A host serving untrusted users
//! must fix these settings itself and keep users away from `SET` and the grant functions.
//!
//! The SQLite ledger uses WAL with `synchronous = FULL` and `BEGIN IMMEDIATE` transactions:
//! a charge is read, checked and written under SQLite's write lock, and committed durably
//! before the query runs, so concurrent processes on one file never overspend a budget.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use datafusion::common::config::ConfigOptions;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use veil_core::dp::budget::{
    apply_grant, check_principal, now_seconds, settle, AuditEntry, Budget, ChargeRequest,
    Composition, Ledger, MemoryLedger,
};
use veil_core::{Fallible, VeilError};

use crate::config::VeilConfig;

/// The in-memory ledger value of `veil.ledger`.
pub const MEMORY: &str = ":memory:";

/// A budget ledger in one SQLite file.
#[derive(Debug)]
pub struct SqliteLedger {
    conn: Mutex<Connection>,
}

fn db_err(e: rusqlite::Error) -> VeilError {
    VeilError::Ledger(e.to_string())
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS budget (
    principal     TEXT PRIMARY KEY,
    composition   TEXT NOT NULL,
    epsilon_total REAL NOT NULL,
    delta_total   REAL NOT NULL,
    epsilon_spent REAL NOT NULL,
    delta_spent   REAL NOT NULL,
    rho_spent     REAL NOT NULL,
    queries       INTEGER NOT NULL,
    updated       REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         REAL NOT NULL,
    principal  TEXT NOT NULL,
    query      TEXT NOT NULL,
    mechanisms TEXT NOT NULL,
    epsilon    REAL NOT NULL,
    delta      REAL NOT NULL,
    accepted   INTEGER NOT NULL,
    reason     TEXT NOT NULL
);";

/// The budget columns, in the order [`budget_at`] reads them.
const BUDGET_COLUMNS: &str =
    "composition, epsilon_total, delta_total, epsilon_spent, delta_spent, rho_spent, queries";

/// The budget in columns `first..first + 7` of a row (see [`BUDGET_COLUMNS`]), with its
/// composition still as text (parsed by [`parsed`], outside rusqlite's error type).
fn budget_at(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<(String, Budget)> {
    Ok((
        r.get::<_, String>(first)?,
        Budget {
            composition: Composition::Basic,
            epsilon_total: r.get(first + 1)?,
            delta_total: r.get(first + 2)?,
            epsilon_spent: r.get(first + 3)?,
            delta_spent: r.get(first + 4)?,
            rho_spent: r.get(first + 5)?,
            queries: r.get::<_, i64>(first + 6)?.max(0) as u64,
        },
    ))
}

fn parsed((composition, mut b): (String, Budget)) -> Fallible<Budget> {
    b.composition = Composition::parse(&composition).map_err(|_| {
        VeilError::Ledger(format!("unknown composition {composition:?} in the ledger"))
    })?;
    Ok(b)
}

fn read_budget(conn: &Connection, principal: &str) -> Fallible<Option<Budget>> {
    conn.query_row(
        &format!("SELECT {BUDGET_COLUMNS} FROM budget WHERE principal = ?1"),
        params![principal],
        |r| budget_at(r, 0),
    )
    .optional()
    .map_err(db_err)?
    .map(parsed)
    .transpose()
}

fn write_budget(conn: &Connection, principal: &str, b: &Budget) -> Fallible<()> {
    conn.execute(
        "INSERT INTO budget (principal, composition, epsilon_total, delta_total, epsilon_spent,
                             delta_spent, rho_spent, queries, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (principal) DO UPDATE SET
             composition = excluded.composition, epsilon_total = excluded.epsilon_total,
             delta_total = excluded.delta_total, epsilon_spent = excluded.epsilon_spent,
             delta_spent = excluded.delta_spent, rho_spent = excluded.rho_spent,
             queries = excluded.queries, updated = excluded.updated",
        params![
            principal,
            b.composition.name(),
            b.epsilon_total,
            b.delta_total,
            b.epsilon_spent,
            b.delta_spent,
            b.rho_spent,
            b.queries as i64,
            now_seconds()
        ],
    )
    .map_err(db_err)?;
    Ok(())
}

impl SqliteLedger {
    /// Opens (creating if needed) the ledger file at `path`.
    pub fn open(path: &Path) -> Fallible<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                VeilError::Ledger(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path)
            .map_err(|e| VeilError::Ledger(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(db_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        Ok(SqliteLedger {
            conn: Mutex::new(conn),
        })
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed when `f` returns Ok.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> Fallible<T>) -> Fallible<T> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| VeilError::Ledger("ledger connection poisoned by a panic".into()))?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let out = f(&tx)?;
        tx.commit().map_err(db_err)?;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Fallible<T> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| VeilError::Ledger("ledger connection poisoned by a panic".into()))?;
        f(&conn).map_err(db_err)
    }
}

impl Ledger for SqliteLedger {
    fn grant(
        &self,
        principal: &str,
        epsilon: f64,
        delta: f64,
        composition: Option<Composition>,
    ) -> Fallible<Budget> {
        check_principal(principal)?;
        self.write(|c| {
            let b = apply_grant(read_budget(c, principal)?, epsilon, delta, composition)?;
            write_budget(c, principal, &b)?;
            Ok(b)
        })
    }

    fn revoke(&self, principal: &str) -> Fallible<bool> {
        self.write(|c| match read_budget(c, principal)? {
            None => Ok(false),
            Some(mut b) => {
                b.revoke();
                write_budget(c, principal, &b)?;
                Ok(true)
            }
        })
    }

    fn charge(&self, request: &ChargeRequest) -> Fallible<Budget> {
        self.write(|c| {
            let (outcome, e) = settle(read_budget(c, &request.principal)?, request);
            if let Ok(b) = &outcome {
                write_budget(c, &request.principal, b)?;
            }
            c.execute(
                "INSERT INTO audit (at, principal, query, mechanisms, epsilon, delta, accepted, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    e.at,
                    e.principal,
                    e.query,
                    e.mechanisms,
                    e.epsilon,
                    e.delta,
                    e.accepted,
                    e.reason
                ],
            )
            .map_err(db_err)?;
            // The refusal is committed too (audit), then reported.
            Ok(outcome)
        })?
    }

    fn status(&self, principal: Option<&str>) -> Fallible<Vec<(String, Budget)>> {
        let rows: Vec<(String, (String, Budget))> = self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT principal, {BUDGET_COLUMNS} FROM budget
                 WHERE ?1 IS NULL OR principal = ?1 ORDER BY principal"
            ))?;
            let rows = st.query_map(params![principal], |r| Ok((r.get(0)?, budget_at(r, 1)?)))?;
            rows.collect()
        })?;
        rows.into_iter().map(|(p, b)| Ok((p, parsed(b)?))).collect()
    }

    fn audit(&self, principal: Option<&str>) -> Fallible<Vec<AuditEntry>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT id, at, principal, query, mechanisms, epsilon, delta, accepted, reason
                 FROM audit WHERE ?1 IS NULL OR principal = ?1 ORDER BY id",
            )?;
            let rows = st.query_map(params![principal], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    principal: r.get(2)?,
                    query: r.get(3)?,
                    mechanisms: r.get(4)?,
                    epsilon: r.get(5)?,
                    delta: r.get(6)?,
                    accepted: r.get(7)?,
                    reason: r.get(8)?,
                })
            })?;
            rows.collect()
        })
    }
}

/// The ledger location a session uses (see the module docs).
pub fn ledger_location(config: &ConfigOptions) -> Fallible<String> {
    let setting = config
        .extensions
        .get::<VeilConfig>()
        .and_then(|c| c.ledger.clone());
    if let Some(s) = setting.filter(|s| !s.is_empty()) {
        return Ok(s);
    }
    if let Some(s) = std::env::var_os("VEIL_LEDGER").filter(|s| !s.is_empty()) {
        return Ok(s.to_string_lossy().into_owned());
    }
    dirs::data_dir()
        .map(|d| d.join("veil").join("ledger.sqlite").display().to_string())
        .ok_or_else(|| {
            VeilError::Ledger(
                "no data directory for the default ledger; SET veil.ledger = '/path/ledger.sqlite' or set VEIL_LEDGER"
                    .into(),
            )
        })
}

/// The ledger at `location`, opened once per process and shared by its sessions.
pub fn open_ledger(location: &str) -> Fallible<Arc<dyn Ledger>> {
    static OPEN: OnceLock<Mutex<HashMap<String, Arc<dyn Ledger>>>> = OnceLock::new();
    let mut open = OPEN
        .get_or_init(Default::default)
        .lock()
        .map_err(|_| VeilError::Ledger("ledger registry poisoned by a panic".into()))?;
    if let Some(l) = open.get(location) {
        return Ok(Arc::clone(l));
    }
    let ledger: Arc<dyn Ledger> = if location == MEMORY {
        Arc::new(MemoryLedger::default())
    } else {
        Arc::new(SqliteLedger::open(&PathBuf::from(location))?)
    };
    open.insert(location.to_string(), Arc::clone(&ledger));
    Ok(ledger)
}

/// The session's ledger.
pub fn session_ledger(config: &ConfigOptions) -> Fallible<Arc<dyn Ledger>> {
    open_ledger(&ledger_location(config)?)
}

/// The principal charged by this session's DP queries.
pub fn principal(config: &ConfigOptions) -> Fallible<String> {
    let setting = config
        .extensions
        .get::<VeilConfig>()
        .and_then(|c| c.principal.clone());
    let name = match setting.filter(|s| !s.is_empty()) {
        Some(p) => p,
        None => whoami::username()
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                VeilError::invalid(
                    "veil.principal",
                    "is not set and the OS user is unknown; SET veil.principal = 'name'",
                )
            })?,
    };
    check_principal(&name)?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use veil_core::dp::PrivacyCost;

    use super::*;

    fn request(p: &str, eps: f64) -> ChargeRequest {
        ChargeRequest {
            principal: p.into(),
            query: "q".into(),
            mechanisms: vec![("dp_count(x)".into(), PrivacyCost::pure(eps))],
        }
    }

    #[test]
    fn sqlite_ledger_persists_charges_and_audit_across_reopen() {
        let dir = std::env::temp_dir().join(format!("veil-ledger-test-{}", std::process::id()));
        let path = dir.join("l.sqlite");
        let _ = std::fs::remove_file(&path);
        {
            let l = SqliteLedger::open(&path).unwrap();
            assert!(matches!(
                l.charge(&request("ann", 0.5)),
                Err(VeilError::BudgetExceeded(_))
            ));
            l.grant("ann", 1.0, 0.0, None).unwrap();
            l.charge(&request("ann", 0.5)).unwrap();
        }
        let l = SqliteLedger::open(&path).unwrap();
        let b = &l.status(Some("ann")).unwrap()[0].1;
        assert_eq!((b.epsilon_spent, b.queries), (0.5, 1));
        assert!(l.charge(&request("ann", 0.6)).is_err());
        l.charge(&request("ann", 0.5)).unwrap();
        let audit = l.audit(None).unwrap();
        assert_eq!(
            audit.iter().map(|e| e.accepted).collect::<Vec<_>>(),
            [false, true, false, true]
        );
        assert!(l.revoke("ann").unwrap());
        let z = l.grant("zed", 1.0, 1e-6, Some(Composition::Zcdp)).unwrap();
        assert_eq!(z.composition, Composition::Zcdp);
        assert_eq!(l.status(None).unwrap().len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn concurrent_connections_never_overspend() {
        // Separate connections (as separate processes would have) race for one budget.
        let dir = std::env::temp_dir().join(format!("veil-ledger-race-{}", std::process::id()));
        let path = dir.join("l.sqlite");
        let _ = std::fs::remove_file(&path);
        SqliteLedger::open(&path)
            .unwrap()
            .grant("pat", 1.0, 0.0, None)
            .unwrap();
        let accepted: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let path = path.clone();
                    s.spawn(move || {
                        let l = SqliteLedger::open(&path).unwrap();
                        (0..10)
                            .filter(|_| l.charge(&request("pat", 0.05)).is_ok())
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        // 40 attempts of 0.05 against 1.0: exactly 20 fit (the ledger's rounding slack of
        // 1e-12 of the total lets the 20th in; a 21st would overspend by 0.05).
        assert_eq!(accepted, 20);
        let l = SqliteLedger::open(&path).unwrap();
        let b = &l.status(Some("pat")).unwrap()[0].1;
        assert!(b.epsilon_spent <= 1.0 + 1e-12, "{}", b.epsilon_spent);
        assert_eq!(b.queries as usize, accepted);
        assert_eq!(l.audit(Some("pat")).unwrap().len(), 40);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
