//! Privacy budgets: how much privacy loss a principal may still spend, and the rule that
//! composes what it has spent.
//!
//! * `basic`: sequential composition — spent ε and δ are sums of the queries' ε and δ.
//! * `zcdp`: zero-concentrated DP (Bun & Steinke 2016). The grant (ε, δ) is turned into the
//!   largest ρ with ρ + 2√(ρ ln(1/δ)) ≤ ε, i.e. ρ = (√(ln(1/δ) + ε) − √(ln(1/δ)))²; each
//!   ε-DP (Laplace) query spends ρ = ε²/2 (Proposition 1.4), and the budget is exhausted when
//!   the ρ spent would exceed ρ_total. A ρ-zCDP query (Gaussian noise, `PrivacyCost::rho`)
//!   spends its ρ directly; other approximate-DP (δ > 0) queries have no ρ and are refused
//!   under zcdp. Under `basic`, a ρ-zCDP query spends the (ε, δ) it was converted to.
//!
//! A [`Budget`] only does arithmetic; storage lives in the engines (PostgreSQL tables,
//! SQLite) behind the [`Ledger`] trait, which must apply [`Budget::charge`] atomically
//! (under a row lock / write transaction) and record every attempt in its audit log.

use std::fmt;

use crate::dp::PrivacyCost;
use crate::error::{Fallible, VeilError};

/// How a budget's spending composes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Composition {
    Basic,
    Zcdp,
}

impl Composition {
    pub fn parse(name: &str) -> Fallible<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "basic" => Ok(Composition::Basic),
            "zcdp" => Ok(Composition::Zcdp),
            _ => Err(VeilError::invalid(
                "composition",
                format!("must be 'basic' or 'zcdp', got {name:?}"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Composition::Basic => "basic",
            Composition::Zcdp => "zcdp",
        }
    }
}

impl fmt::Display for Composition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One principal's budget: what was granted and what was spent.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub composition: Composition,
    pub epsilon_total: f64,
    pub delta_total: f64,
    /// Sum of the ε of accepted queries (under zcdp: informational, ρ decides).
    pub epsilon_spent: f64,
    pub delta_spent: f64,
    /// Sum of the ρ of accepted queries (zcdp only; 0 under basic).
    pub rho_spent: f64,
    /// Accepted queries.
    pub queries: u64,
}

/// Checks a granted amount: ε finite and > 0, δ in [0, 1).
fn check_grant(epsilon: f64, delta: f64) -> Fallible<()> {
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(VeilError::invalid(
            "epsilon",
            format!("must be a finite number greater than 0, got {epsilon}"),
        ));
    }
    if !(0.0..1.0).contains(&delta) {
        return Err(VeilError::invalid(
            "delta",
            format!("must be at least 0 and below 1, got {delta}"),
        ));
    }
    Ok(())
}

/// A total plus floating-point slack: sums of decimal amounts (0.1 + 0.2 …) round, and a
/// budget of exactly ten 0.1-queries must accept the tenth. The slack, 1e-12 of the total,
/// is far below any privacy loss that matters (an overspend of at most 1e-12 · ε).
fn with_slack(total: f64) -> f64 {
    total + total.abs() * 1e-12
}

/// The largest ρ whose (ε, δ) conversion stays within `epsilon` at `delta`.
pub fn rho_for(epsilon: f64, delta: f64) -> f64 {
    let l = (1.0 / delta).ln();
    // √(l + ε) − √l, written without the cancellation that loses digits for small ε
    let r = epsilon / ((l + epsilon).sqrt() + l.sqrt());
    r * r
}

/// The ε of ρ-zCDP at `delta`: ρ + 2√(ρ ln(1/δ)).
pub fn epsilon_of_rho(rho: f64, delta: f64) -> f64 {
    rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt()
}

impl Budget {
    /// A fresh budget of (ε, δ) under `composition`. zcdp needs δ > 0 (the conversion from
    /// ρ to ε is infinite at δ = 0).
    pub fn new(composition: Composition, epsilon: f64, delta: f64) -> Fallible<Self> {
        check_grant(epsilon, delta)?;
        if composition == Composition::Zcdp && delta <= 0.0 {
            return Err(VeilError::invalid(
                "delta",
                "must be greater than 0 for a zcdp budget (ρ converts to ε only at some δ > 0)",
            ));
        }
        Ok(Budget {
            composition,
            epsilon_total: epsilon,
            delta_total: delta,
            epsilon_spent: 0.0,
            delta_spent: 0.0,
            rho_spent: 0.0,
            queries: 0,
        })
    }

    /// Adds (ε, δ) to what was granted. Spending is never undone.
    pub fn grant(&mut self, epsilon: f64, delta: f64) -> Fallible<()> {
        check_grant(epsilon, delta)?;
        let delta_total = self.delta_total + delta;
        if delta_total >= 1.0 {
            return Err(VeilError::invalid(
                "delta",
                format!("would bring the total δ to {delta_total}; it must stay below 1"),
            ));
        }
        self.epsilon_total += epsilon;
        self.delta_total = delta_total;
        Ok(())
    }

    /// Leaves nothing to spend: the totals become what was spent (ρ-budgets keep the ε that
    /// the spent ρ converts to).
    pub fn revoke(&mut self) {
        self.epsilon_total = self.epsilon_spent_effective();
        if self.composition == Composition::Basic {
            self.delta_total = self.delta_spent;
        }
    }

    /// ρ granted (zcdp budgets).
    pub fn rho_total(&self) -> f64 {
        match self.composition {
            Composition::Basic => 0.0,
            Composition::Zcdp => rho_for(self.epsilon_total, self.delta_total),
        }
    }

    /// The ε spent under the budget's own rule (zcdp: ρ converted at δ_total).
    pub fn epsilon_spent_effective(&self) -> f64 {
        match self.composition {
            Composition::Basic => self.epsilon_spent,
            Composition::Zcdp => epsilon_of_rho(self.rho_spent, self.delta_total),
        }
    }

    /// ε left to spend under the budget's rule (never negative).
    pub fn epsilon_remaining(&self) -> f64 {
        (self.epsilon_total - self.epsilon_spent_effective()).max(0.0)
    }

    /// δ left (basic budgets; zcdp budgets use δ only to convert ρ).
    pub fn delta_remaining(&self) -> f64 {
        match self.composition {
            Composition::Basic => (self.delta_total - self.delta_spent).max(0.0),
            Composition::Zcdp => 0.0,
        }
    }

    /// Spends the costs of one query's mechanisms together, or returns why not
    /// (`BudgetExceeded`) and leaves the budget unchanged. The caller must persist the new
    /// state atomically before any value the costs pay for is released.
    pub fn charge_query(&mut self, costs: &[PrivacyCost]) -> Fallible<()> {
        let mut next = self.clone();
        for &c in costs {
            next.spend(c)?;
        }
        next.queries += 1;
        *self = next;
        Ok(())
    }

    /// [`Budget::charge_query`] for a query with one mechanism.
    pub fn charge(&mut self, cost: PrivacyCost) -> Fallible<()> {
        self.charge_query(&[cost])
    }

    fn spend(&mut self, cost: PrivacyCost) -> Fallible<()> {
        let valid = cost.epsilon.is_finite()
            && cost.epsilon >= 0.0
            && cost.delta.is_finite()
            && (0.0..1.0).contains(&cost.delta)
            && cost.rho.is_none_or(|r| r.is_finite() && r >= 0.0);
        if !valid {
            return Err(VeilError::invalid(
                "epsilon",
                format!("a query's privacy cost must be finite and non-negative, got {cost}"),
            ));
        }
        match self.composition {
            Composition::Basic => {
                let eps = self.epsilon_spent + cost.epsilon;
                let delta = self.delta_spent + cost.delta;
                if eps > with_slack(self.epsilon_total) || delta > with_slack(self.delta_total) {
                    return Err(VeilError::BudgetExceeded(format!(
                        "the query costs {cost} but only (ε = {}, δ = {}) of the {} budget is left",
                        self.epsilon_total - self.epsilon_spent,
                        self.delta_total - self.delta_spent,
                        self.composition
                    )));
                }
                self.epsilon_spent = eps;
                self.delta_spent = delta;
            }
            Composition::Zcdp => {
                // A ρ-zCDP mechanism (Gaussian noise) spends its ρ; an ε-DP one ε²/2.
                let rho = match cost.rho {
                    Some(rho) => rho,
                    None if cost.delta > 0.0 => {
                        return Err(VeilError::BudgetExceeded(format!(
                            "the query costs {cost}: approximate-DP (δ > 0) mechanisms without a ρ cannot be composed in a zcdp budget"
                        )));
                    }
                    None => cost.epsilon * cost.epsilon / 2.0,
                };
                let total = self.rho_total();
                // Decided in ε space, so a revoked budget (ε_total = ε of ρ_spent) refuses.
                if epsilon_of_rho(self.rho_spent + rho, self.delta_total)
                    > with_slack(self.epsilon_total)
                {
                    return Err(VeilError::BudgetExceeded(format!(
                        "the query costs ρ = {rho} ({cost}) but only ρ = {} of the zcdp budget is left",
                        (total - self.rho_spent).max(0.0)
                    )));
                }
                self.rho_spent += rho;
                self.epsilon_spent += cost.epsilon;
            }
        }
        Ok(())
    }
}

/// What a DP query asks of the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargeRequest {
    pub principal: String,
    /// The query (SQL text where the engine has it, else its plan).
    pub query: String,
    /// The mechanisms the query releases, e.g. `dp_mean(salary, 0, 200000, 1)`, with
    /// their costs; they are charged together or not at all.
    pub mechanisms: Vec<(String, PrivacyCost)>,
}

impl ChargeRequest {
    pub fn costs(&self) -> Vec<PrivacyCost> {
        self.mechanisms.iter().map(|(_, c)| *c).collect()
    }

    /// The mechanisms as one line for the audit log.
    pub fn describe(&self) -> String {
        self.mechanisms
            .iter()
            .map(|(m, c)| format!("{m} {c}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Σ ε and Σ δ of the mechanisms (what basic composition spends), and Σ ρ when every
    /// mechanism has a ρ.
    pub fn total(&self) -> PrivacyCost {
        let rho = self
            .mechanisms
            .iter()
            .map(|(_, c)| c.rho)
            .sum::<Option<f64>>();
        self.mechanisms
            .iter()
            .fold(PrivacyCost::pure(0.0), |acc, (_, c)| PrivacyCost {
                epsilon: acc.epsilon + c.epsilon,
                delta: acc.delta + c.delta,
                rho,
            })
    }
}

/// One audit-log entry: every charge attempt, accepted or refused.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    /// Seconds since the Unix epoch.
    pub at: f64,
    pub principal: String,
    pub query: String,
    pub mechanisms: String,
    pub epsilon: f64,
    pub delta: f64,
    pub accepted: bool,
    /// Why a refused query was refused (empty when accepted).
    pub reason: String,
}

/// Storage of budgets and the audit log. Implementations make [`Ledger::charge`] atomic
/// and durable: when it returns `Ok`, the charge is committed; when it returns
/// `BudgetExceeded`, nothing was spent, and both outcomes are in the audit log.
pub trait Ledger: Send + Sync {
    /// Grants (ε, δ) more to `principal`, creating its budget under `composition`
    /// (default basic). Granting with a different composition than the existing one is an error.
    fn grant(
        &self,
        principal: &str,
        epsilon: f64,
        delta: f64,
        composition: Option<Composition>,
    ) -> Fallible<Budget>;

    /// Leaves `principal` nothing to spend; false when it had no budget.
    fn revoke(&self, principal: &str) -> Fallible<bool>;

    /// Charges a query atomically; see the trait docs.
    fn charge(&self, request: &ChargeRequest) -> Fallible<Budget>;

    /// Budgets, of one principal or all.
    fn status(&self, principal: Option<&str>) -> Fallible<Vec<(String, Budget)>>;

    /// Audit entries, of one principal or all, oldest first.
    fn audit(&self, principal: Option<&str>) -> Fallible<Vec<AuditEntry>>;
}

/// Refusal for a principal without any budget.
pub fn no_budget(principal: &str) -> VeilError {
    VeilError::BudgetExceeded(format!(
        "principal {principal:?} has no privacy budget; a privileged user must grant one with veil_budget_grant"
    ))
}

/// Checks a principal name: non-empty, at most 256 bytes, no control characters.
pub fn check_principal(principal: &str) -> Fallible<&str> {
    if principal.is_empty() || principal.len() > 256 || principal.chars().any(char::is_control) {
        return Err(VeilError::invalid(
            "principal",
            format!("must be 1 to 256 bytes without control characters, got {principal:?}"),
        ));
    }
    Ok(principal)
}

/// Seconds since the Unix epoch, for audit entries.
pub fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The rule every ledger applies to a charge, inside its own transaction: the principal's
/// budget after the charge (or why it is refused: no budget, not enough left), and the audit
/// entry recording the attempt either way (`id` 0: the ledger numbers it).
pub fn settle(existing: Option<Budget>, request: &ChargeRequest) -> (Fallible<Budget>, AuditEntry) {
    let outcome = match existing {
        None => Err(no_budget(&request.principal)),
        Some(mut b) => b.charge_query(&request.costs()).map(|()| b),
    };
    let total = request.total();
    let entry = AuditEntry {
        id: 0,
        at: now_seconds(),
        principal: request.principal.clone(),
        query: request.query.clone(),
        mechanisms: request.describe(),
        epsilon: total.epsilon,
        delta: total.delta,
        accepted: outcome.is_ok(),
        reason: outcome
            .as_ref()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default(),
    };
    (outcome, entry)
}

/// Applies a grant to an existing budget or creates one: the shared rule of every ledger.
pub fn apply_grant(
    existing: Option<Budget>,
    epsilon: f64,
    delta: f64,
    composition: Option<Composition>,
) -> Fallible<Budget> {
    match existing {
        None => Budget::new(composition.unwrap_or(Composition::Basic), epsilon, delta),
        Some(mut b) => {
            if let Some(c) = composition {
                if c != b.composition {
                    return Err(VeilError::invalid(
                        "composition",
                        format!(
                            "the principal's budget uses {} composition; it cannot change to {c}",
                            b.composition
                        ),
                    ));
                }
            }
            b.grant(epsilon, delta)?;
            Ok(b)
        }
    }
}

/// A ledger in process memory: gone when the process ends. Only for explicit choice
/// (`veil.ledger = ':memory:'`) and tests.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    inner: std::sync::Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    budgets: std::collections::BTreeMap<String, Budget>,
    audit: Vec<AuditEntry>,
}

impl MemoryLedger {
    fn lock(&self) -> Fallible<std::sync::MutexGuard<'_, MemoryState>> {
        self.inner
            .lock()
            .map_err(|_| VeilError::Ledger("the in-memory ledger was poisoned by a panic".into()))
    }
}

impl Ledger for MemoryLedger {
    fn grant(
        &self,
        principal: &str,
        epsilon: f64,
        delta: f64,
        composition: Option<Composition>,
    ) -> Fallible<Budget> {
        check_principal(principal)?;
        let mut st = self.lock()?;
        let b = apply_grant(
            st.budgets.get(principal).cloned(),
            epsilon,
            delta,
            composition,
        )?;
        st.budgets.insert(principal.to_string(), b.clone());
        Ok(b)
    }

    fn revoke(&self, principal: &str) -> Fallible<bool> {
        let mut st = self.lock()?;
        Ok(st.budgets.get_mut(principal).map(Budget::revoke).is_some())
    }

    fn charge(&self, request: &ChargeRequest) -> Fallible<Budget> {
        let mut st = self.lock()?;
        let (outcome, mut entry) = settle(st.budgets.get(&request.principal).cloned(), request);
        entry.id = st.audit.len() as i64 + 1;
        st.audit.push(entry);
        if let Ok(b) = &outcome {
            st.budgets.insert(request.principal.clone(), b.clone());
        }
        outcome
    }

    fn status(&self, principal: Option<&str>) -> Fallible<Vec<(String, Budget)>> {
        let st = self.lock()?;
        Ok(st
            .budgets
            .iter()
            .filter(|(p, _)| principal.is_none_or(|want| want == p.as_str()))
            .map(|(p, b)| (p.clone(), b.clone()))
            .collect())
    }

    fn audit(&self, principal: Option<&str>) -> Fallible<Vec<AuditEntry>> {
        let st = self.lock()?;
        Ok(st
            .audit
            .iter()
            .filter(|e| principal.is_none_or(|want| want == e.principal))
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_budget_sums_and_refuses_overspending() {
        let mut b = Budget::new(Composition::Basic, 1.0, 1e-6).unwrap();
        b.charge(PrivacyCost::pure(0.4)).unwrap();
        b.charge(PrivacyCost::pure(0.5)).unwrap();
        let before = b.clone();
        let e = b.charge(PrivacyCost::pure(0.2)).unwrap_err();
        assert!(matches!(e, VeilError::BudgetExceeded(_)), "{e}");
        assert!(e.to_string().contains("only"), "{e}");
        assert_eq!(b, before, "a refused charge changes nothing");
        b.charge(PrivacyCost::pure(0.1)).unwrap();
        assert_eq!(b.queries, 3);
        assert!(b.epsilon_remaining() < 1e-12);
        // δ is summed and capped too.
        let mut b = Budget::new(Composition::Basic, 10.0, 1e-6).unwrap();
        b.charge(PrivacyCost {
            epsilon: 1.0,
            delta: 1e-6,
            rho: None,
        })
        .unwrap();
        assert!(b
            .charge(PrivacyCost {
                epsilon: 1.0,
                delta: 1e-7,
                rho: None,
            })
            .is_err());
    }

    #[test]
    fn zcdp_budget_converts_and_allows_more_small_queries() {
        // ε = 1, δ = 1e-6: basic allows 100 queries of ε = 0.01; zCDP allows many more.
        let mut z = Budget::new(Composition::Zcdp, 1.0, 1e-6).unwrap();
        let rho = z.rho_total();
        assert!((epsilon_of_rho(rho, 1e-6) - 1.0).abs() < 1e-9);
        let mut n = 0usize;
        while z.charge(PrivacyCost::pure(0.01)).is_ok() {
            n += 1;
        }
        // ρ_total / (0.01²/2) queries (± rounding).
        let expected = (rho / 0.00005).floor() as usize;
        assert!(n.abs_diff(expected) <= 1, "{n} vs {expected}");
        assert!(n > 100, "{n}");
        assert!(z.epsilon_spent_effective() <= 1.0 + 1e-12);
        // Approximate-DP charges are refused under zcdp.
        let mut z = Budget::new(Composition::Zcdp, 1.0, 1e-6).unwrap();
        assert!(z
            .charge(PrivacyCost {
                epsilon: 0.1,
                delta: 1e-9,
                rho: None,
            })
            .is_err());
    }

    #[test]
    fn gaussian_costs_spend_rho_under_zcdp_and_epsilon_delta_under_basic() {
        use crate::dp::{Noise, Privacy};
        let g = Privacy::new(0.5, Noise::Gaussian { delta: 1e-7 })
            .unwrap()
            .cost();
        let rho = g.rho.unwrap();
        // zcdp: ρ is spent as is, with no ε²/2 of the converted ε
        let mut z = Budget::new(Composition::Zcdp, 1.0, 1e-6).unwrap();
        z.charge_query(&[g, PrivacyCost::pure(0.1)]).unwrap();
        assert!(
            (z.rho_spent - (rho + 0.005)).abs() < 1e-15,
            "{}",
            z.rho_spent
        );
        assert_eq!(z.queries, 1);
        // the total ρ of the budget allows ⌊ρ_total/ρ⌋ such queries
        let mut z = Budget::new(Composition::Zcdp, 1.0, 1e-6).unwrap();
        let fit = (z.rho_total() / rho).floor() as usize;
        let n = (0..fit + 5).filter(|_| z.charge(g).is_ok()).count();
        assert!(n.abs_diff(fit) <= 1, "{n} vs {fit}");
        assert!(z.epsilon_spent_effective() <= 1.0 + 1e-12);
        // basic: (ε, δ) are summed
        let mut b = Budget::new(Composition::Basic, 1.0, 1e-6).unwrap();
        b.charge(g).unwrap();
        b.charge(g).unwrap();
        assert_eq!((b.epsilon_spent, b.delta_spent), (1.0, 2e-7));
        assert!(b.charge(g).is_err());
        // a nonsense ρ is refused, naming the argument
        let bad = PrivacyCost::zcdp(0.5, 1e-7, f64::NAN);
        assert!(b
            .clone()
            .charge(bad)
            .unwrap_err()
            .to_string()
            .contains("`epsilon`"));
    }

    #[test]
    fn decimal_amounts_add_up_exactly_as_users_expect() {
        // 3.7 spent, revoked, 1.0 granted: exactly ten queries of 0.1 fit, not nine.
        let mut b = Budget::new(Composition::Basic, 10.0, 0.0).unwrap();
        for _ in 0..37 {
            b.charge(PrivacyCost::pure(0.1)).unwrap();
        }
        b.revoke();
        b.grant(1.0, 0.0).unwrap();
        let n = (0..20)
            .filter(|_| b.charge(PrivacyCost::pure(0.1)).is_ok())
            .count();
        assert_eq!(n, 10);
    }

    #[test]
    fn grants_add_and_revoke_leaves_nothing() {
        let mut b = Budget::new(Composition::Basic, 1.0, 0.0).unwrap();
        b.charge(PrivacyCost::pure(0.75)).unwrap();
        b.grant(2.0, 0.0).unwrap();
        assert!((b.epsilon_remaining() - 2.25).abs() < 1e-12);
        b.revoke();
        assert_eq!(b.epsilon_remaining(), 0.0);
        assert!(b.charge(PrivacyCost::pure(1e-9)).is_err());
        let mut z = Budget::new(Composition::Zcdp, 1.0, 1e-6).unwrap();
        z.charge(PrivacyCost::pure(0.1)).unwrap();
        z.revoke();
        assert!(z.charge(PrivacyCost::pure(1e-6)).is_err());
    }

    #[test]
    fn memory_ledger_charges_audits_and_refuses() {
        let l = MemoryLedger::default();
        let req = |eps| ChargeRequest {
            principal: "alice".into(),
            query: "SELECT dp_count(x) FROM t".into(),
            mechanisms: vec![("dp_count(x)".into(), PrivacyCost::pure(eps))],
        };
        assert!(matches!(
            l.charge(&req(0.6)),
            Err(VeilError::BudgetExceeded(_))
        ));
        l.grant("alice", 1.0, 0.0, None).unwrap();
        assert!(l
            .grant("alice", 1.0, 1e-6, Some(Composition::Zcdp))
            .is_err());
        l.charge(&req(0.6)).unwrap();
        assert!(l.charge(&req(0.6)).is_err());
        let audit = l.audit(Some("alice")).unwrap();
        assert_eq!(
            audit.iter().map(|e| e.accepted).collect::<Vec<_>>(),
            [false, true, false]
        );
        assert!(
            audit[2].reason.contains("budget exceeded"),
            "{}",
            audit[2].reason
        );
        let status = l.status(None).unwrap();
        assert_eq!(status.len(), 1);
        assert!((status[0].1.epsilon_spent - 0.6).abs() < 1e-12);
        assert!(l.revoke("alice").unwrap());
        assert!(!l.revoke("bob").unwrap());
    }

    #[test]
    fn bad_grants_name_the_argument() {
        for (e, d, arg) in [
            (0.0, 0.0, "`epsilon`"),
            (f64::INFINITY, 0.0, "`epsilon`"),
            (1.0, 1.0, "`delta`"),
            (1.0, -0.1, "`delta`"),
        ] {
            let err = Budget::new(Composition::Basic, e, d).unwrap_err();
            assert!(err.to_string().contains(arg), "{err}");
        }
        let err = Budget::new(Composition::Zcdp, 1.0, 0.0).unwrap_err();
        assert!(err.to_string().contains("`delta`"), "{err}");
        let err = Composition::parse("advanced").unwrap_err();
        assert!(err.to_string().contains("`composition`"), "{err}");
        assert!(check_principal("").is_err());
        assert!(check_principal("a\nb").is_err());
        assert_eq!(check_principal("alice").unwrap(), "alice");
    }
}
