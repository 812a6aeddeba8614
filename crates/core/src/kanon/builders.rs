//! Ready-made hierarchies: ISO dates (day → month → year), prefix masking (zip codes),
//! top- and bottom-coding of integers, and hierarchies stored in a SQL table whose cells
//! may be NULL. Each builds its rows and hands them to [`Hierarchy::from_rows`], which
//! checks that they form a tree.
//!
//! (Hierarchies stored as rows `value, level 1, level 2, …` without NULLs are exactly what
//! [`Hierarchy::from_rows`] reads; integer intervals are [`Hierarchy::intervals`], which
//! already refuses widths that are not positive or not multiples of the previous one.)

use super::Hierarchy;
use crate::error::{Fallible, VeilError};

impl Hierarchy {
    /// Dates `YYYY-MM-DD` (ISO 8601 calendar dates, Gregorian, years 0000–9999): level 1 is
    /// the month `YYYY-MM`, level 2 the year `YYYY`, level 3 `*`. Any other format, or a day
    /// that does not exist (`2023-02-29`), is refused naming the value. Repeated values are
    /// fine.
    pub fn dates<S: AsRef<str>>(name: &str, values: &[S]) -> Fallible<Self> {
        let mut distinct: Vec<&str> = values.iter().map(AsRef::as_ref).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let mut rows = Vec::with_capacity(distinct.len());
        for v in distinct {
            check_iso_date(v).map_err(|rule| {
                VeilError::invalid(
                    format!("hierarchy of {name}"),
                    format!("value {v:?} is not a date YYYY-MM-DD: {rule}"),
                )
            })?;
            rows.push(vec![
                v.to_string(),
                v[..7].to_string(),
                v[..4].to_string(),
                "*".to_string(),
            ]);
        }
        Self::from_rows(name, rows)
    }

    /// Prefix masking, as for zip codes: level i replaces the last i characters by `*`
    /// (`12345` → `1234*` → `123**` → … → `*****`), so a hierarchy over values of length L
    /// has L + 1 levels. All values must have the same number of characters (a shorter
    /// value would be masked to a different pattern than its longer neighbours: pad them,
    /// e.g. with leading zeros, first) and must not contain `*`; values breaking either
    /// rule are refused by name.
    pub fn prefix_masking<S: AsRef<str>>(name: &str, values: &[S]) -> Fallible<Self> {
        let err = |rule: String| VeilError::invalid(format!("hierarchy of {name}"), rule);
        let mut distinct: Vec<&str> = values.iter().map(AsRef::as_ref).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let Some(first) = distinct.first() else {
            return Err(err("has no values to mask".into()));
        };
        let length = first.chars().count();
        for v in &distinct {
            if v.is_empty() {
                return Err(err("has an empty value".into()));
            }
            if v.contains('*') {
                return Err(err(format!("value {v:?} contains the mask character `*`")));
            }
            let n = v.chars().count();
            if n != length {
                return Err(err(format!(
                    "values must all have the same length: {first:?} has {length} characters, \
                     {v:?} has {n}"
                )));
            }
        }
        let rows = distinct
            .iter()
            .map(|v| {
                let chars: Vec<char> = v.chars().collect();
                (0..=length)
                    .map(|masked| {
                        let mut s: String = chars[..length - masked].iter().collect();
                        s.push_str(&"*".repeat(masked));
                        s
                    })
                    .collect()
            })
            .collect();
        Self::from_rows(name, rows)
    }

    /// Top-coding: level i (1-based) replaces values ≥ `caps[i-1]` by `>=cap` and keeps the
    /// others; a last level `*` is added. Caps must be strictly decreasing (each level codes
    /// more values than the one below). Original values are written as `i64::to_string`
    /// writes them (`7`, `-3`), which is how the table's values must be spelled too.
    pub fn top_coding(name: &str, values: &[i64], caps: &[i64]) -> Fallible<Self> {
        check_thresholds(name, "caps", caps, |a, b| a > b, "strictly decreasing")?;
        coded(name, values, caps, |v, cap| {
            (v >= cap).then(|| format!(">={cap}"))
        })
    }

    /// Bottom-coding: level i (1-based) replaces values ≤ `floors[i-1]` by `<=floor` and
    /// keeps the others; a last level `*` is added. Floors must be strictly increasing.
    pub fn bottom_coding(name: &str, values: &[i64], floors: &[i64]) -> Fallible<Self> {
        check_thresholds(name, "floors", floors, |a, b| a < b, "strictly increasing")?;
        coded(name, values, floors, |v, floor| {
            (v <= floor).then(|| format!("<={floor}"))
        })
    }

    /// A hierarchy read from a SQL table: rows `value, level 1, level 2, …` whose cells may
    /// be NULL (`None`). A NULL cell is refused naming its row and level; otherwise the
    /// rules of [`Hierarchy::from_rows`] apply.
    pub fn from_table_rows(name: &str, rows: Vec<Vec<Option<String>>>) -> Fallible<Self> {
        let mut out = Vec::with_capacity(rows.len());
        for (i, row) in rows.into_iter().enumerate() {
            if row.is_empty() {
                return Err(VeilError::invalid(
                    format!("hierarchy of {name}"),
                    format!("row {} has no values", i + 1),
                ));
            }
            let mut cells = Vec::with_capacity(row.len());
            for (level, cell) in row.into_iter().enumerate() {
                cells.push(cell.ok_or_else(|| {
                    VeilError::invalid(
                        format!("hierarchy of {name}"),
                        format!("row {} has NULL at level {level}", i + 1),
                    )
                })?);
            }
            out.push(cells);
        }
        Self::from_rows(name, out)
    }
}

/// Why `v` is not a valid `YYYY-MM-DD` date, if it is not.
fn check_iso_date(v: &str) -> Result<(), String> {
    let b = v.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) || !digits(5..7) {
        return Err("expected 4-digit year, 2-digit month and 2-digit day".into());
    }
    if !digits(8..10) {
        return Err("expected 4-digit year, 2-digit month and 2-digit day".into());
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is not between 1 and 12"));
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=days).contains(&day) {
        return Err(format!("day {day} does not exist in {year:04}-{month:02}"));
    }
    Ok(())
}

fn check_thresholds(
    name: &str,
    what: &str,
    thresholds: &[i64],
    ordered: impl Fn(i64, i64) -> bool,
    rule: &str,
) -> Fallible<()> {
    if thresholds.is_empty() {
        return Err(VeilError::invalid(
            format!("hierarchy of {name}"),
            format!("needs at least one of its {what}"),
        ));
    }
    if let Some(w) = thresholds.windows(2).find(|w| !ordered(w[0], w[1])) {
        return Err(VeilError::invalid(
            format!("hierarchy of {name}"),
            format!("{what} must be {rule}, got {} then {}", w[0], w[1]),
        ));
    }
    Ok(())
}

/// Rows `original, code(original, t1), code(…, t2), …, *`, where `code` returns the coded
/// label or `None` to keep the original.
fn coded(
    name: &str,
    values: &[i64],
    thresholds: &[i64],
    code: impl Fn(i64, i64) -> Option<String>,
) -> Fallible<Hierarchy> {
    let mut distinct = values.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let rows = distinct
        .iter()
        .map(|v| {
            let mut row = vec![v.to_string()];
            for t in thresholds {
                row.push(code(*v, *t).unwrap_or_else(|| v.to_string()));
            }
            row.push("*".into());
            row
        })
        .collect();
    Hierarchy::from_rows(name, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: &Hierarchy, value: &str, level: usize) -> String {
        let b = h.base_code(value).unwrap();
        h.label(level, h.code(level, b)).to_string()
    }

    #[test]
    fn dates_go_day_month_year_star() {
        let h = Hierarchy::dates(
            "dob",
            &["1980-02-29", "1980-03-01", "1981-12-31", "1980-03-01"],
        )
        .unwrap();
        assert_eq!((h.len(), h.height()), (3, 4));
        assert_eq!(at(&h, "1980-02-29", 1), "1980-02");
        assert_eq!(at(&h, "1980-03-01", 1), "1980-03");
        assert_eq!(at(&h, "1980-02-29", 2), "1980");
        assert_eq!(at(&h, "1981-12-31", 2), "1981");
        assert_eq!(at(&h, "1981-12-31", 3), "*");
        assert_eq!((h.distinct(1), h.distinct(2), h.distinct(3)), (3, 2, 1));
    }

    #[test]
    fn dates_refuse_other_formats_naming_the_value() {
        let err = |v: &str| {
            Hierarchy::dates("dob", &["2000-01-01", v])
                .unwrap_err()
                .to_string()
        };
        for bad in [
            "01/02/2000",
            "2000-1-02",
            "2000-01-02T00:00",
            "20000102",
            "2000-13-01",
            "2000-00-10",
            "2001-02-29",
            "1900-02-29",
            "2000-04-31",
            "2000-01-00",
            "２000-01-01",
            "",
        ] {
            let e = err(bad);
            assert!(e.contains(&format!("{bad:?}")), "{e}");
            assert!(e.contains("hierarchy of dob"), "{e}");
        }
        assert!(err("2001-02-29").contains("day 29 does not exist in 2001-02"));
        assert!(err("2000-13-01").contains("month 13"));
        // 2000 is a leap year (divisible by 400), 1900 is not.
        assert!(Hierarchy::dates("dob", &["2000-02-29"]).is_ok());
        assert!(Hierarchy::dates::<&str>("dob", &[]).is_err());
    }

    #[test]
    fn prefix_masking_masks_one_more_character_per_level() {
        let h = Hierarchy::prefix_masking("zip", &["12345", "12399", "13000"]).unwrap();
        assert_eq!(h.height(), 6);
        let levels: Vec<String> = (0..6).map(|l| at(&h, "12345", l)).collect();
        assert_eq!(
            levels,
            ["12345", "1234*", "123**", "12***", "1****", "*****"]
        );
        assert_eq!(h.distinct(3), 2); // 12*** and 13***
        assert_eq!(h.distinct(4), 1);
        // Characters, not bytes.
        let h = Hierarchy::prefix_masking("city", &["Zü", "Zo"]).unwrap();
        assert_eq!(at(&h, "Zü", 1), "Z*");
        assert_eq!(h.distinct(1), 1);
    }

    #[test]
    fn prefix_masking_refuses_mixed_lengths_and_stars() {
        let e = Hierarchy::prefix_masking("zip", &["12345", "1234"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"1234\" has 4 characters"), "{e}");
        assert!(e.contains("\"12345\" has 5"), "{e}");
        let e = Hierarchy::prefix_masking("zip", &["12*45"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"12*45\" contains the mask character"), "{e}");
        assert!(Hierarchy::prefix_masking::<&str>("zip", &[]).is_err());
        assert!(Hierarchy::prefix_masking("zip", &[""]).is_err());
    }

    #[test]
    fn top_and_bottom_coding() {
        let h = Hierarchy::top_coding("age", &[30, 70, 85, 90, 30], &[90, 80]).unwrap();
        assert_eq!(h.height(), 4);
        let row = |v: &str| (0..4).map(|l| at(&h, v, l)).collect::<Vec<_>>();
        assert_eq!(row("30"), ["30", "30", "30", "*"]);
        assert_eq!(row("85"), ["85", "85", ">=80", "*"]);
        assert_eq!(row("90"), ["90", ">=90", ">=80", "*"]);
        assert_eq!((h.distinct(1), h.distinct(2)), (4, 3));

        let h = Hierarchy::bottom_coding("income", &[-5, 0, 10, 20], &[0, 10]).unwrap();
        let row = |v: &str| (0..4).map(|l| at(&h, v, l)).collect::<Vec<_>>();
        assert_eq!(row("-5"), ["-5", "<=0", "<=10", "*"]);
        assert_eq!(row("10"), ["10", "10", "<=10", "*"]);
        assert_eq!(row("20"), ["20", "20", "20", "*"]);

        let e = Hierarchy::top_coding("age", &[1], &[80, 90])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("caps must be strictly decreasing, got 80 then 90"),
            "{e}"
        );
        assert!(Hierarchy::top_coding("age", &[1], &[80, 80]).is_err());
        assert!(Hierarchy::bottom_coding("age", &[1], &[5, 1]).is_err());
        assert!(Hierarchy::top_coding("age", &[1], &[]).is_err());
    }

    #[test]
    fn table_rows_with_nulls_are_refused_by_position() {
        let s = |v: &str| Some(v.to_string());
        let h = Hierarchy::from_table_rows("sex", vec![vec![s("F"), s("*")], vec![s("M"), s("*")]])
            .unwrap();
        assert_eq!(at(&h, "M", 1), "*");
        let e = Hierarchy::from_table_rows("sex", vec![vec![s("F"), s("*")], vec![s("M"), None]])
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 2 has NULL at level 1"), "{e}");
        let e = Hierarchy::from_table_rows("sex", vec![vec![s("F")], vec![]])
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 2 has no values"), "{e}");
        // The tree rule of from_rows still applies.
        assert!(Hierarchy::from_table_rows(
            "x",
            vec![vec![s("a"), s("p"), s("1")], vec![s("b"), s("p"), s("2")]]
        )
        .is_err());
    }
}
