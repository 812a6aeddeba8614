//! Tests of the privacy models and loss metrics: hand-checked small tables, brute force over
//! whole lattices of small random tables, and independent re-checks of released classes.

use std::collections::{BTreeMap, HashMap};

use super::*;

fn rows_of(names: &[&str]) -> Vec<Vec<String>> {
    names
        .iter()
        .map(|s| s.split(';').map(String::from).collect())
        .collect()
}

/// Eight patients: `a` (a1..a4; A = {a1, a2}, B = {a3, a4}; *), `b` (x, y; *), disease.
fn patients() -> Table {
    let a = Hierarchy::from_rows("a", rows_of(&["a1;A;*", "a2;A;*", "a3;B;*", "a4;B;*"])).unwrap();
    let b = Hierarchy::from_rows("b", rows_of(&["x;*", "y;*"])).unwrap();
    let rows = [
        ("a1", "x", "flu"),
        ("a1", "x", "flu"),
        ("a2", "x", "cold"),
        ("a2", "y", "flu"),
        ("a3", "y", "hiv"),
        ("a3", "y", "cold"),
        ("a4", "x", "flu"),
        ("a4", "y", "cancer"),
    ];
    Table::encode_with_sensitive(
        &["a", "b"],
        vec![a, b],
        rows.iter().map(|r| [r.0, r.1]),
        "disease",
        rows.iter().map(|r| r.2),
    )
    .unwrap()
}

fn model(k: usize, s: f64) -> Model {
    Model::new(k, s).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn hand_checked_metrics_at_one_node() {
    // At levels [1, 0] the classes are (A,x) rows 1-3, (A,y) row 4, (B,y) rows 5, 6, 8 and
    // (B,x) row 7; with k = 2 rows 4 and 7 are suppressed.
    let t = patients();
    let at =
        |metric: Metric| evaluate_levels(&t, &model(2, 1.0).with_metric(metric), &[1, 0]).unwrap();
    let e = at(Metric::Entropy);
    assert_eq!(
        (e.classes, e.suppressed_rows, e.min_class_size),
        (2, 2, Some(3))
    );
    // Entropy: every a-value has 2 rows and A, B 4, so a kept row costs −log2(2/4) = 1 bit
    // for a and 0 for b (level 0): 6 bits. A suppressed row costs −log2 P(a) − log2 P(b) =
    // −log2(2/8) − log2(4/8) = 3 bits: 6 + 2·3 = 12.
    assert!(close(e.loss, 12.0), "{e:?}");
    // Generalization loss: A covers 2 of 4 leaves, (2−1)/(4−1) = 1/3 per kept row for a, 0
    // for b; a suppressed row costs 1 + 1. (6/3 + 4) / 16 cells = 0.375.
    assert!(close(at(Metric::GeneralizationLoss).loss, 0.375));
    // Discernibility: 3² + 3² + 2 suppressed · 8 rows = 34.
    assert!(close(at(Metric::Discernibility).loss, 34.0));
    // Average class size: 8 rows / (2 kept classes + 1 class of suppressed rows) = 8/3.
    assert!(close(at(Metric::AverageClassSize).loss, 8.0 / 3.0));
    // Precision: a kept row costs 1/2 (a at level 1 of 2) + 0/1; suppressed 1 + 1:
    // (6·0.5 + 2·2) / 16 = 0.4375.
    assert!(close(at(Metric::Precision).loss, 0.4375));
    // Without suppression precision is data-independent: mean of level / max level.
    let p = evaluate_levels(&t, &model(1, 0.0).with_metric(Metric::Precision), &[1, 1]).unwrap();
    assert!(close(p.loss, 0.75));
}

#[test]
fn hand_checked_l_diversity() {
    let t = patients();
    let at = |l: LDiversity, levels: &[usize]| {
        evaluate_levels(&t, &model(1, 1.0).with_l_diversity(l).unwrap(), levels).unwrap()
    };
    // [1, 0]: (A,x) {flu, flu, cold}, (A,y) {flu}, (B,y) {hiv, cold, cancer}, (B,x) {flu}.
    let d = at(LDiversity::distinct(2).unwrap(), &[1, 0]);
    assert_eq!((d.classes, d.suppressed_rows, d.min_l), (2, 2, Some(2.0)));
    // Entropy of (A,x) is −(2/3 log2 2/3 + 1/3 log2 1/3) = 0.918 < log2 2: suppressed too;
    // (B,y) has log2 3, so it alone is kept and 2^entropy = 3.
    let e = at(LDiversity::entropy(2.0).unwrap(), &[1, 0]);
    assert_eq!((e.classes, e.suppressed_rows), (1, 5));
    assert!(close(e.min_l.unwrap(), 3.0));
    // With l = 1.5 (log2 1.5 = 0.585) (A,x) passes: min l = 2^0.918 = 1.8899.
    let e = at(LDiversity::entropy(1.5).unwrap(), &[1, 0]);
    assert_eq!(e.suppressed_rows, 2);
    assert!((e.min_l.unwrap() - 1.8899).abs() < 1e-4);
    // Recursive (2, 2): (A,x) has r = [2, 1] and 2 < 2·1 fails; (B,y) r = [1, 1, 1], 1 < 4.
    let r = at(LDiversity::recursive(2.0, 2).unwrap(), &[1, 0]);
    assert_eq!((r.classes, r.suppressed_rows), (1, 5));
    // (3, 2): 2 < 3 passes; achieved l: (A,x) 2 (2 < 3·0 fails at l = 3), (B,y) 3.
    let r = at(LDiversity::recursive(3.0, 2).unwrap(), &[1, 0]);
    assert_eq!((r.classes, r.suppressed_rows, r.min_l), (2, 2, Some(2.0)));
    // Whole table: flu 4, cold 2, hiv 1, cancer 1, entropy 1.75 bits ≥ log2 3 = 1.585.
    assert_eq!(
        at(LDiversity::entropy(3.0).unwrap(), &[2, 1]).suppressed_rows,
        0
    );
    assert_eq!(
        at(LDiversity::entropy(3.5).unwrap(), &[2, 1]).suppressed_rows,
        8
    );
}

#[test]
fn hand_checked_t_closeness() {
    // Table: flu 1/2, cold 1/4, hiv 1/8, cancer 1/8.
    let t = patients();
    let at = |t_: TCloseness, table: &Table| {
        evaluate_levels(table, &model(1, 1.0).with_t_closeness(t_).unwrap(), &[1, 0]).unwrap()
    };
    // Equal distance: (A,x) = (2/3, 1/3, 0, 0): ½(1/6 + 1/12 + 1/8 + 1/8) = 1/4;
    // (A,y), (B,x) = only flu: ½(1/2 + 1/4 + 1/8 + 1/8) = 1/2; (B,y) = 1/3 each of cold,
    // hiv, cancer: ½(1/2 + 1/12 + 5/24 + 5/24) = 1/2.
    let e = at(TCloseness::new(0.3, GroundDistance::Equal).unwrap(), &t);
    assert_eq!((e.classes, e.suppressed_rows, e.max_t), (1, 5, Some(0.25)));
    let e = at(TCloseness::new(0.5, GroundDistance::Equal).unwrap(), &t);
    assert_eq!((e.suppressed_rows, e.max_t), (0, Some(0.5)));
    // Ordered distance needs an order for text values.
    let ordered = TCloseness::new(0.3, GroundDistance::Ordered).unwrap();
    let err = search(&t, &model(1, 0.0).with_t_closeness(ordered).unwrap()).unwrap_err();
    assert!(err.to_string().contains("`sensitive`"), "{err}");
    assert!(err.to_string().contains("\"flu\" is not a number"), "{err}");
    // flu < cold < hiv < cancer, m = 4: (A,x) cumulative differences 1/6, 1/4, 1/8, 0 →
    // (13/24)/3 = 13/72; only flu: 1/2, 1/4, 1/8, 0 → (7/8)/3 = 7/24 = 0.2917; (B,y):
    // −1/2, −5/12, −5/24, 0 → (27/24)/3 = 3/8. With t = 0.3 only (B,y) (3 rows) goes.
    let order = ["flu", "cold", "hiv", "cancer"];
    let o = patients().with_sensitive_order(&order).unwrap();
    let e = at(ordered, &o);
    assert_eq!((e.classes, e.suppressed_rows), (3, 3));
    assert!(close(e.max_t.unwrap(), 7.0 / 24.0));
    // A value absent from the data still counts in the domain: m = 5, (A,x) 13/96,
    // only flu (7/8)/4 = 7/32.
    let o = patients()
        .with_sensitive_order(&["flu", "cold", "hiv", "cancer", "ebola"])
        .unwrap();
    let e = at(TCloseness::new(0.22, GroundDistance::Ordered).unwrap(), &o);
    assert_eq!(e.suppressed_rows, 3);
    assert!(close(e.max_t.unwrap(), 7.0 / 32.0));
}

#[test]
fn ordered_distance_orders_numbers_numerically() {
    // Class p = {1, 2}, q = {3, 10}, table uniform. Numerically 1 < 2 < 3 < 10: p's
    // cumulative differences 1/4, 1/2, 1/4, 0 → 1/3. (As text, "1" < "10" < "2" < "3"
    // would give 1/6.)
    let h = Hierarchy::from_rows("g", rows_of(&["p;*", "q;*"])).unwrap();
    let t = Table::encode_with_sensitive(
        &["g"],
        vec![h],
        [["p"], ["p"], ["q"], ["q"]],
        "salary",
        ["1", "2", "3", "10"],
    )
    .unwrap();
    let m = model(1, 0.0)
        .with_t_closeness(TCloseness::new(1.0, GroundDistance::Ordered).unwrap())
        .unwrap();
    let e = evaluate_levels(&t, &m, &[0]).unwrap();
    assert!(close(e.max_t.unwrap(), 1.0 / 3.0), "{e:?}");
}

#[test]
fn hand_checked_searches() {
    let t = patients();
    let precision = |m: Model| search(&t, &m.with_metric(Metric::Precision)).unwrap().best;
    // Distinct 2-diversity passes at [1,1] (A: flu, cold; B: 4 values), [2,0] (x: flu,
    // cold; y: 4 values) and [2,1]; precision 0.75, 0.5, 1: [2,0] wins.
    let d = precision(
        model(1, 0.0)
            .with_l_diversity(LDiversity::distinct(2).unwrap())
            .unwrap(),
    );
    assert_eq!((d.levels.clone(), d.loss), (vec![2, 0], 0.5));
    // Entropy 2-diversity: A (3 flu, 1 cold) and x (the same) have 0.811 bits < 1; only
    // the whole table (1.75 bits) passes: a costs −log2(2/8) = 2 bits a row, b 1 bit.
    let e = search(
        &t,
        &model(1, 0.0)
            .with_l_diversity(LDiversity::entropy(2.0).unwrap())
            .unwrap(),
    )
    .unwrap()
    .best;
    assert_eq!(e.levels, vec![2, 1]);
    assert!(close(e.loss, 24.0));
    // Equal-distance 0.3-closeness: A = (3/4, 1/4, 0, 0) and B = 1/4 each are both at 1/4,
    // x and y likewise; a1 (only flu) is at 1/2. [2,0] wins on precision again.
    let c = precision(
        model(1, 0.0)
            .with_t_closeness(TCloseness::new(0.3, GroundDistance::Equal).unwrap())
            .unwrap(),
    );
    assert_eq!(c.levels, vec![2, 0]);
    assert_eq!(c.max_t, Some(0.25));
}

#[test]
fn suppression_can_satisfy_a_model_the_top_fails() {
    // Entropy 2-diversity over {a, b} needs a 50/50 class. The whole table (6 a, 4 b) has
    // 0.971 bits and fails, but with 2 of 10 rows suppressed the original values pass:
    // v1..v4 each hold {a, b}, v5 {a, a}. Monotonicity must not be assumed here.
    let h = Hierarchy::from_rows(
        "v",
        rows_of(&["v1;G;*", "v2;G;*", "v3;H;*", "v4;H;*", "v5;I;*"]),
    )
    .unwrap();
    let qi = ["v1", "v1", "v2", "v2", "v3", "v3", "v4", "v4", "v5", "v5"];
    let s = ["a", "b", "a", "b", "a", "b", "a", "b", "a", "a"];
    let t = Table::encode_with_sensitive(&["v"], vec![h], qi.iter().map(|v| [*v]), "s", s).unwrap();
    let m = model(1, 0.2)
        .with_l_diversity(LDiversity::entropy(2.0).unwrap())
        .unwrap();
    assert!(!evaluate_levels(&t, &m, &[2]).unwrap().anonymous);
    let best = search(&t, &m).unwrap().best;
    // Level 0 loses only the two suppressed rows: 2 · −log2(2/10) bits.
    assert_eq!((best.levels.clone(), best.suppressed_rows), (vec![0], 2));
    assert!(close(best.loss, 2.0 * 5f64.log2()));
    // Without the suppression budget nothing passes, and the error blames l.
    let err = search(
        &t,
        &Model {
            max_suppression: 0.0,
            ..m
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("`l`"), "{err}");
    assert!(err.to_string().contains("entropy 2-diverse"), "{err}");
}

#[test]
fn errors_name_the_config_field() {
    let msg = |e: VeilError| e.to_string();
    assert!(msg(LDiversity::distinct(0).unwrap_err()).contains("`l`"));
    assert!(msg(LDiversity::entropy(1.0).unwrap_err()).contains("`l`"));
    assert!(msg(LDiversity::entropy(f64::NAN).unwrap_err()).contains("`l`"));
    assert!(msg(LDiversity::recursive(0.0, 2).unwrap_err()).contains("`c`"));
    assert!(msg(LDiversity::recursive(2.0, 0).unwrap_err()).contains("`l`"));
    assert!(msg(TCloseness::new(1.5, GroundDistance::Equal).unwrap_err()).contains("`t`"));
    assert!(msg(TCloseness::new(-0.1, GroundDistance::Equal).unwrap_err()).contains("`t`"));
    assert!(msg(Model::new(2, 2.0).unwrap_err()).contains("`suppression_limit`"));
    assert!(msg("nope".parse::<Metric>().unwrap_err()).contains("`metric`"));
    for m in Metric::ALL {
        assert_eq!(m.name().parse::<Metric>().unwrap(), m);
    }
    // Public fields are validated again by the search.
    let t = patients();
    let bad = Model {
        l_diversity: Some(LDiversity::Entropy { l: 0.5 }),
        ..model(1, 0.0)
    };
    assert!(msg(search(&t, &bad).unwrap_err()).contains("`l`"));
    let bad = Model {
        t_closeness: Some(TCloseness {
            t: 2.0,
            distance: GroundDistance::Equal,
        }),
        ..model(1, 0.0)
    };
    assert!(msg(search(&t, &bad).unwrap_err()).contains("`t`"));
    // A model that needs a sensitive column, on a table without one.
    let h = Hierarchy::from_rows("g", rows_of(&["p;*"])).unwrap();
    let plain = Table::encode(&["g"], vec![h.clone()], [["p"]]).unwrap();
    let l2 = model(1, 0.0)
        .with_l_diversity(LDiversity::distinct(2).unwrap())
        .unwrap();
    assert!(msg(search(&plain, &l2).unwrap_err()).contains("`sensitive`"));
    assert!(msg(evaluate_levels(&plain, &l2, &[0]).unwrap_err()).contains("`sensitive`"));
    // Sensitive values must match the rows one for one, and not be a quasi-identifier.
    let enc = |values: &[&str]| {
        Table::encode_with_sensitive(&["g"], vec![h.clone()], [["p"], ["p"]], "s", values)
    };
    assert!(msg(enc(&["x"]).err().unwrap()).contains("fewer values"));
    assert!(msg(enc(&["x", "y", "z"]).err().unwrap()).contains("more values"));
    let same = Table::encode_with_sensitive(&["g"], vec![h.clone()], [["p"]], "g", ["x"]);
    assert!(msg(same.err().unwrap()).contains("also a quasi-identifier"));
    // Orders must cover every value, once.
    let order_err = |order: &[&str]| {
        msg(enc(&["x", "y"])
            .unwrap()
            .with_sensitive_order(order)
            .err()
            .unwrap())
    };
    assert!(order_err(&["x"]).contains("\"y\" of s is missing"));
    assert!(order_err(&["x", "y", "x"]).contains("twice"));
    assert!(msg(plain.with_sensitive_order(&["x"]).err().unwrap()).contains("no sensitive column"));
    // l beyond the sensitive values available: the error blames l, not k.
    let err = search(
        &patients(),
        &model(1, 0.0)
            .with_l_diversity(LDiversity::distinct(5).unwrap())
            .unwrap(),
    )
    .unwrap_err();
    assert!(msg(err.clone()).contains("`l`"), "{err}");
}

/// xorshift64*: a small deterministic PRNG for the tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A random table kept with its raw rows, for independent re-checks.
struct Random {
    table: Table,
    hierarchies: Vec<Hierarchy>,
    rows: Vec<Vec<String>>,
    sensitive: Vec<String>,
    order: Vec<String>,
}

/// `q` attributes with random heights 2–4 over 3–6 leaves (level i groups leaves by
/// 2^i), `n` skewed rows, a sensitive column of 3–5 values, partly tied to attribute 0.
fn random_table(rng: &mut Rng, q: usize, n: usize) -> Random {
    let mut hierarchies = Vec::new();
    let mut leaves = Vec::new();
    for j in 0..q {
        let d = 3 + rng.below(4);
        let height = 2 + rng.below(3);
        let rows = (0..d)
            .map(|v| {
                let mut row = vec![format!("v{v}")];
                for l in 1..height - 1 {
                    row.push(format!("g{}", v >> l));
                }
                row.push("*".into());
                row
            })
            .collect();
        hierarchies.push(Hierarchy::from_rows(&format!("q{j}"), rows).unwrap());
        leaves.push(d);
    }
    let m = 3 + rng.below(3);
    let mut rows = Vec::new();
    let mut sensitive = Vec::new();
    for _ in 0..n {
        // The smaller of two draws: skewed towards small values.
        let row: Vec<String> = leaves
            .iter()
            .map(|d| format!("v{}", rng.below(*d).min(rng.below(*d))))
            .collect();
        let s = if rng.below(3) == 0 {
            rng.below(m)
        } else {
            (row[0][1..].parse::<usize>().unwrap() + rng.below(2)) % m
        };
        sensitive.push(format!("s{s}"));
        rows.push(row);
    }
    let names: Vec<String> = (0..q).map(|j| format!("q{j}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut order: Vec<String> = (0..m).map(|s| format!("s{s}")).collect();
    order.reverse();
    let table = Table::encode_with_sensitive(
        &name_refs,
        hierarchies.clone(),
        rows.iter()
            .map(|r| r.iter().map(String::as_str).collect::<Vec<_>>()),
        "s",
        &sensitive,
    )
    .unwrap()
    .with_sensitive_order(&order)
    .unwrap();
    Random {
        table,
        hierarchies,
        rows,
        sensitive,
        order,
    }
}

fn models() -> Vec<(usize, Option<LDiversity>, Option<TCloseness>)> {
    let eq = |t| Some(TCloseness::new(t, GroundDistance::Equal).unwrap());
    let ord = |t| Some(TCloseness::new(t, GroundDistance::Ordered).unwrap());
    vec![
        (2, None, None),
        (4, None, None),
        (1, Some(LDiversity::distinct(2).unwrap()), None),
        (3, Some(LDiversity::distinct(3).unwrap()), None),
        (1, Some(LDiversity::entropy(1.8).unwrap()), None),
        (2, Some(LDiversity::entropy(2.5).unwrap()), None),
        (1, Some(LDiversity::recursive(1.5, 2).unwrap()), None),
        (2, Some(LDiversity::recursive(3.0, 3).unwrap()), None),
        (1, None, eq(0.25)),
        (2, None, ord(0.15)),
        (1, Some(LDiversity::distinct(2).unwrap()), eq(0.35)),
        // Often unsatisfiable: as many values as some tables have, or nearly the table's
        // distribution everywhere.
        (1, Some(LDiversity::distinct(5).unwrap()), None),
        (1, Some(LDiversity::entropy(3.5).unwrap()), ord(0.1)),
        (1, None, eq(0.05)),
    ]
}

/// The model's verdict on a class from the raw values, written independently of
/// `Checker`: returns whether the class is kept.
fn keeps(m: &Model, r: &Random, members: &[usize]) -> bool {
    let n = members.len() as f64;
    let mut hist: BTreeMap<&str, usize> = BTreeMap::new();
    for i in members {
        *hist.entry(r.sensitive[*i].as_str()).or_insert(0) += 1;
    }
    if members.len() < m.k {
        return false;
    }
    let ok_l = match m.l_diversity {
        None => true,
        Some(LDiversity::Distinct { l }) => hist.len() >= l,
        Some(LDiversity::Entropy { l }) => {
            let h: f64 = hist
                .values()
                .map(|c| *c as f64 / n)
                .map(|p| -p * p.log2())
                .sum();
            h >= l.log2() - 1e-12
        }
        Some(LDiversity::Recursive { c, l }) => {
            let mut r: Vec<usize> = hist.values().copied().collect();
            r.sort_unstable_by(|a, b| b.cmp(a));
            let tail: usize = r.iter().skip(l - 1).sum();
            (r[0] as f64) < c * tail as f64
        }
    };
    let ok_t = match m.t_closeness {
        None => true,
        Some(t) => {
            let total = r.sensitive.len() as f64;
            let p = |v: &str| hist.get(v).copied().unwrap_or(0) as f64 / n;
            let q = |v: &str| r.sensitive.iter().filter(|s| *s == v).count() as f64 / total;
            let d = match t.distance {
                GroundDistance::Equal => {
                    r.order.iter().map(|v| (p(v) - q(v)).abs()).sum::<f64>() / 2.0
                }
                GroundDistance::Ordered => {
                    let mut cum = 0.0;
                    let mut sum = 0.0;
                    for v in &r.order {
                        cum += p(v) - q(v);
                        sum += f64::abs(cum);
                    }
                    sum / (r.order.len() - 1) as f64
                }
            };
            d <= t.t + 1e-12
        }
    };
    ok_l && ok_t
}

/// Classes and loss of a transformation from the raw strings and the metric definitions.
fn by_definition(m: &Model, r: &Random, levels: &[usize]) -> (f64, usize, usize) {
    let q = levels.len();
    let label = |j: usize, v: &str| {
        let h = &r.hierarchies[j];
        h.label(levels[j], h.code(levels[j], h.base_code(v).unwrap()))
            .to_string()
    };
    let mut classes: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
    for (i, row) in r.rows.iter().enumerate() {
        let key: Vec<String> = (0..q).map(|j| label(j, &row[j])).collect();
        classes.entry(key).or_default().push(i);
    }
    let n = r.rows.len() as f64;
    let mut suppressed_rows = vec![false; r.rows.len()];
    let mut kept = 0usize;
    let mut squares = 0f64;
    for members in classes.values() {
        if keeps(m, r, members) {
            kept += 1;
            squares += (members.len() * members.len()) as f64;
        } else {
            for i in members {
                suppressed_rows[*i] = true;
            }
        }
    }
    let suppressed = suppressed_rows.iter().filter(|s| **s).count();
    let count = |pred: &dyn Fn(&Vec<String>) -> bool| r.rows.iter().filter(|x| pred(x)).count();
    let mut cells = 0f64;
    for (i, row) in r.rows.iter().enumerate() {
        for j in 0..q {
            let h = &r.hierarchies[j];
            let g = label(j, &row[j]);
            cells += match m.metric {
                Metric::Entropy => {
                    let same = count(&|x| x[j] == row[j]) as f64;
                    let group = if suppressed_rows[i] {
                        n
                    } else {
                        count(&|x| label(j, &x[j]) == g) as f64
                    };
                    -(same / group).log2()
                }
                _ if suppressed_rows[i] => 1.0,
                Metric::GeneralizationLoss => {
                    let leaves = (0..h.len() as u32)
                        .filter(|b| h.label(levels[j], h.code(levels[j], *b)) == g)
                        .count();
                    (leaves - 1) as f64 / (h.len() - 1) as f64
                }
                Metric::Precision => levels[j] as f64 / (h.height() - 1) as f64,
                _ => 0.0,
            };
        }
    }
    let loss = match m.metric {
        Metric::Entropy => cells,
        Metric::GeneralizationLoss | Metric::Precision => cells / (n * q as f64),
        Metric::Discernibility => squares + suppressed as f64 * n,
        Metric::AverageClassSize => n / (kept + usize::from(suppressed > 0)) as f64,
    };
    (loss, kept, suppressed)
}

#[test]
fn every_node_matches_the_definitions() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for round in 0..3 {
        let r = random_table(&mut rng, 3, 40 + 10 * round);
        let lattice = Lattice::new(r.hierarchies.iter().map(Hierarchy::height).collect());
        for (k, l, t) in models() {
            for metric in Metric::ALL {
                let m = Model {
                    k,
                    max_suppression: 0.1,
                    l_diversity: l,
                    t_closeness: t,
                    metric,
                };
                for node in 0..lattice.size {
                    let levels = lattice.levels(node);
                    let v = evaluate_levels(&r.table, &m, &levels).unwrap();
                    let (loss, kept, suppressed) = by_definition(&m, &r, &levels);
                    assert_eq!(
                        (v.classes, v.suppressed_rows),
                        (kept, suppressed),
                        "{m:?} {levels:?}"
                    );
                    assert!(
                        close(v.loss, loss),
                        "{m:?} {levels:?}: {} vs {loss}",
                        v.loss
                    );
                    assert_eq!(v.anonymous, suppressed <= m.suppression_limit(r.rows.len()));
                }
            }
        }
    }
}

#[test]
fn search_finds_the_brute_force_optimum_for_every_metric_and_model() {
    let mut rng = Rng(0x0dd_ba11_2024);
    let (mut solved, mut unsolvable, mut top_fails_but_solved) = (0, 0, 0);
    for round in 0..6 {
        let q = 2 + round % 3;
        let r = random_table(&mut rng, q, 30 + 15 * round);
        let lattice = Lattice::new(r.hierarchies.iter().map(Hierarchy::height).collect());
        // Entropy l-diversity a little beyond the whole table's (2^entropy): the top fails,
        // classes without the most skewed rows may pass.
        let whole = evaluate_levels(
            &r.table,
            &Model {
                l_diversity: Some(LDiversity::Entropy { l: 1.01 }),
                ..model(1, 1.0)
            },
            &lattice.levels(lattice.size - 1),
        )
        .unwrap()
        .min_l
        .unwrap();
        let mut cases = models();
        for factor in [1.01, 1.05] {
            cases.push((1, Some(LDiversity::entropy(whole * factor).unwrap()), None));
        }
        for (k, l, t) in cases {
            for s in [0.0, 0.05, 0.2] {
                for metric in Metric::ALL {
                    let m = Model {
                        k,
                        max_suppression: s,
                        l_diversity: l,
                        t_closeness: t,
                        metric,
                    };
                    let all: Vec<Evaluation> = (0..lattice.size)
                        .map(|n| evaluate_levels(&r.table, &m, &lattice.levels(n)).unwrap())
                        .collect();
                    let best = all
                        .iter()
                        .filter(|v| v.anonymous)
                        .map(|v| v.loss)
                        .fold(f64::INFINITY, f64::min);
                    match search(&r.table, &m) {
                        Ok(found) => {
                            assert!(
                                close(found.best.loss, best),
                                "{m:?}: search {:?} vs brute force {best}",
                                found.best
                            );
                            // Ties go to the least general transformation.
                            let least = all
                                .iter()
                                .filter(|v| v.anonymous && close(v.loss, best))
                                .min_by_key(|v| (v.levels.iter().sum::<usize>(), &v.levels))
                                .unwrap();
                            assert_eq!(found.best.levels, least.levels, "{m:?}");
                            // The search's evaluation (rolled up from cached classes) is the
                            // same as one from scratch.
                            let again = evaluate_levels(&r.table, &m, &found.best.levels).unwrap();
                            assert_eq!(again, found.best);
                            solved += 1;
                            if !all[lattice.size - 1].anonymous {
                                top_fails_but_solved += 1;
                            }
                        }
                        Err(e) => {
                            assert!(best.is_infinite(), "{m:?}: {e} but brute force {best}");
                            unsolvable += 1;
                        }
                    }
                }
            }
        }
    }
    // The cases are varied enough to mean something.
    assert!(solved > 500 && unsolvable > 20, "{solved} {unsolvable}");
    assert!(top_fails_but_solved >= 5, "{top_fails_but_solved}");
}

#[test]
fn released_classes_satisfy_the_model() {
    let mut rng = Rng(0xfeed_beef_0042);
    for round in 0..4 {
        let r = random_table(&mut rng, 3, 60 + 20 * round);
        for (k, l, t) in models() {
            for s in [0.0, 0.1] {
                let m = Model {
                    k,
                    max_suppression: s,
                    l_diversity: l,
                    t_closeness: t,
                    metric: Metric::ALL[round % Metric::ALL.len()],
                };
                let Ok(found) = search(&r.table, &m) else {
                    continue;
                };
                let levels = &found.best.levels;
                // Regroup the raw rows by their generalized strings and re-check each class.
                let mut classes: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
                for (i, row) in r.rows.iter().enumerate() {
                    let key = (0..levels.len())
                        .map(|j| {
                            let h = &r.hierarchies[j];
                            let c = h.code(levels[j], h.base_code(&row[j]).unwrap());
                            h.label(levels[j], c).to_string()
                        })
                        .collect();
                    classes.entry(key).or_default().push(i);
                }
                let kept: Vec<&Vec<usize>> =
                    classes.values().filter(|c| keeps(&m, &r, c)).collect();
                let suppressed = r.rows.len() - kept.iter().map(|c| c.len()).sum::<usize>();
                assert_eq!(kept.len(), found.best.classes, "{m:?}");
                assert_eq!(suppressed, found.best.suppressed_rows, "{m:?}");
                assert!(suppressed as f64 <= s * r.rows.len() as f64, "{m:?}");
                assert!(kept.iter().all(|c| c.len() >= k));
                if let Some(min) = found.best.min_class_size {
                    assert_eq!(min, kept.iter().map(|c| c.len()).min().unwrap());
                }
            }
        }
    }
}
