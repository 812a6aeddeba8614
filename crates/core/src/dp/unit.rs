//! The `veil.privacy_unit` setting: which column holds the individual a row belongs to.
//!
//! A comma-separated list of declarations, each `column` (any table with that column) or
//! `table.column` (that table only), e.g. `'visits.user_id, orders.customer_id'`: a unit
//! declared per table. For each DP aggregation exactly one declaration must apply to its
//! input (the engines check; none or several is refused), so a misspelled name never falls
//! back to counting rows as individuals.

use crate::error::{Fallible, VeilError};

/// One declaration: a column, of one table when `table` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitColumn {
    pub table: Option<String>,
    pub column: String,
}

impl std::fmt::Display for UnitColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.table {
            Some(t) => write!(f, "{t}.{}", self.column),
            None => write!(f, "{}", self.column),
        }
    }
}

/// Parses `veil.privacy_unit`: None when unset or blank (each row is one individual).
pub fn parse_privacy_units(setting: &str) -> Fallible<Option<Vec<UnitColumn>>> {
    if setting.trim().is_empty() {
        return Ok(None);
    }
    let mut out: Vec<UnitColumn> = Vec::new();
    for item in setting.split(',') {
        let item = item.trim();
        let (table, column) = match item.rsplit_once('.') {
            Some((t, c)) => (Some(t.trim()), c.trim()),
            None => (None, item),
        };
        let bad = |what: &str| {
            VeilError::invalid(
                "veil.privacy_unit",
                format!("must list `column` or `table.column` separated by commas; {what} in {setting:?}"),
            )
        };
        if column.is_empty() || table.is_some_and(str::is_empty) {
            return Err(bad("an empty name"));
        }
        let unit = UnitColumn {
            table: table.map(str::to_string),
            column: column.to_string(),
        };
        if out.iter().any(|u| u.table == unit.table) {
            return Err(bad(&match &unit.table {
                Some(t) => format!("table {t} twice"),
                None => "two columns for every table".to_string(),
            }));
        }
        out.push(unit);
    }
    Ok(Some(out))
}

/// The declaration that applies to an aggregation's input, given `has(declaration)`:
/// whether the input has that column (of that table, when named). Declarations naming a
/// table win over bare column names. Errors (naming `veil.privacy_unit`) when none or
/// several apply.
pub fn applicable_unit(
    units: &[UnitColumn],
    mut has: impl FnMut(&UnitColumn) -> bool,
) -> Fallible<&UnitColumn> {
    let found: Vec<&UnitColumn> = units.iter().filter(|u| has(u)).collect();
    let named: Vec<&UnitColumn> = found
        .iter()
        .copied()
        .filter(|u| u.table.is_some())
        .collect();
    let chosen = if named.is_empty() { found } else { named };
    let list = || {
        units
            .iter()
            .map(|u| u.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match chosen.as_slice() {
        [u] => Ok(u),
        [] => Err(VeilError::invalid(
            "veil.privacy_unit",
            format!(
                "the DP aggregation's input has none of the declared unit columns ({}); declare one for its table, or SET veil.privacy_unit = '' to count each row as one individual",
                list()
            ),
        )),
        several => Err(VeilError::invalid(
            "veil.privacy_unit",
            format!(
                "several declared unit columns apply to the DP aggregation's input ({}): its rows would belong to several individuals at once",
                several.iter().map(|u| u.to_string()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(table: Option<&str>, column: &str) -> UnitColumn {
        UnitColumn {
            table: table.map(str::to_string),
            column: column.to_string(),
        }
    }

    #[test]
    fn parses_columns_and_table_columns() {
        assert_eq!(parse_privacy_units("  ").unwrap(), None);
        assert_eq!(
            parse_privacy_units("user_id").unwrap(),
            Some(vec![unit(None, "user_id")])
        );
        assert_eq!(
            parse_privacy_units("visits.user_id, orders.customer_id").unwrap(),
            Some(vec![
                unit(Some("visits"), "user_id"),
                unit(Some("orders"), "customer_id")
            ])
        );
        for bad in ["a,", ".x", "t.", "a.x, a.y", "x, y"] {
            let e = parse_privacy_units(bad).unwrap_err().to_string();
            assert!(e.contains("veil.privacy_unit"), "{bad}: {e}");
        }
    }

    #[test]
    fn table_declarations_win_and_none_or_several_are_refused() {
        let units = parse_privacy_units("person, visits.user_id, orders.customer_id")
            .unwrap()
            .unwrap();
        // input of visits (has user_id and person): the table's declaration
        let visits = |u: &UnitColumn| {
            matches!(
                (u.table.as_deref(), u.column.as_str()),
                (Some("visits"), "user_id") | (None, "person")
            )
        };
        assert_eq!(
            applicable_unit(&units, visits).unwrap().to_string(),
            "visits.user_id"
        );
        // another table with a `person` column
        let other = |u: &UnitColumn| u.table.is_none() && u.column == "person";
        assert_eq!(
            applicable_unit(&units, other).unwrap().to_string(),
            "person"
        );
        // a table with none: refused
        let e = applicable_unit(&units, |_| false).unwrap_err().to_string();
        assert!(e.contains("none of the declared unit columns"), "{e}");
        // a join of visits and orders: refused
        let join = |u: &UnitColumn| u.table.is_some();
        let e = applicable_unit(&units, join).unwrap_err().to_string();
        assert!(e.contains("several declared unit columns"), "{e}");
    }
}
