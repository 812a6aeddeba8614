//! What a DP release did, for `dp_explain` and result metadata: the mechanism, the noise
//! scale of each noised part, the privacy spent, and a 95 % accuracy statement.
//!
//! An explanation depends only on the parameters (bounds, ε, noise), never on the data,
//! so showing it costs no privacy.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{
    BoundedMean, BoundedQuantile, BoundedSum, BoundedVariance, DpCountAccumulator,
    DpCountDistinctAccumulator, Noise, Privacy, PrivacyCost, Spread, TopK, NOISE_CHOICE,
};
use crate::error::{Fallible, VeilError};

/// One noised part of a release (e.g. the count and the sum of a mean).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoisePart {
    /// What is noised: "count", "sum", "sum of squares", "score" …
    pub name: &'static str,
    /// "discrete Laplace", "discrete Gaussian", or "permute-and-flip".
    pub mechanism: &'static str,
    /// How much one row can change the part, in the part's own units.
    pub sensitivity: f64,
    /// Laplace b, Gaussian σ, or the exponential-mechanism temperature, in the part's units.
    pub scale: f64,
    /// With 95 % probability the noise added to the part is at most this (in its units).
    pub half_width_95: f64,
}

/// The explanation of one DP aggregate's release.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The SQL function, e.g. "dp_mean".
    pub function: &'static str,
    /// The mechanism of the release as a whole.
    pub mechanism: &'static str,
    /// The privacy loss of one release.
    pub cost: PrivacyCost,
    pub parts: Vec<NoisePart>,
    /// When the released value itself is within ± this of the exact answer (on the clamped
    /// data) with 95 % probability, this half-width; None when the error depends on the
    /// (private) data, e.g. the row count of a mean — `meaning` then says how.
    pub half_width_95: Option<f64>,
    /// What the numbers mean, in one or two sentences.
    pub meaning: String,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}, cost {}",
            self.function, self.mechanism, self.cost
        )?;
        for p in &self.parts {
            write!(
                f,
                "; {} ({}): sensitivity {}, scale {}, 95% noise within ±{}",
                p.name, p.mechanism, p.sensitivity, p.scale, p.half_width_95
            )?;
        }
        if let Some(h) = self.half_width_95 {
            write!(f, "; 95% interval ±{h}")?;
        }
        write!(f, ". {}", self.meaning)
    }
}

/// [`PrivacyCost`] as it appears in JSON.
#[derive(Serialize)]
struct CostJson {
    epsilon: f64,
    delta: f64,
    rho: Option<f64>,
}

/// [`Explanation`] as it appears in JSON (fields in this order).
#[derive(Serialize)]
struct ExplanationJson<'a> {
    function: &'a str,
    mechanism: &'a str,
    cost: CostJson,
    parts: &'a [NoisePart],
    half_width_95: Option<f64>,
    meaning: &'a str,
}

impl Explanation {
    /// One JSON object: `function`, `mechanism`, `cost` {`epsilon`, `delta`, `rho`},
    /// `parts` [{`name`, `mechanism`, `sensitivity`, `scale`, `half_width_95`}],
    /// `half_width_95` (null when it depends on the data) and `meaning`.
    pub fn to_json(&self) -> String {
        let view = ExplanationJson {
            function: self.function,
            mechanism: self.mechanism,
            cost: CostJson {
                epsilon: self.cost.epsilon,
                delta: self.cost.delta,
                rho: self.cost.rho,
            },
            parts: &self.parts,
            half_width_95: self.half_width_95,
            meaning: &self.meaning,
        };
        serde_json::to_string(&view).expect("plain data serializes")
    }
}

/// Optional `params` keys of every [`explain_call`]: the session settings the call runs
/// under (`veil.noise`, `veil.delta`, `veil.max_groups_contributed`,
/// `veil.max_rows_contributed` with a privacy unit).
const SETTINGS: [&str; 4] = [
    "noise",
    "delta",
    "max_groups_contributed",
    "max_rows_contributed",
];

/// The DP aggregates [`explain_call`] knows, with the `params` keys each one needs (all
/// required; other keys are refused so that a misspelled or irrelevant key is not silently
/// ignored).
const EXPLAINED: [(&str, &[&str]); 10] = [
    ("dp_count", &["epsilon"]),
    ("dp_count_distinct", &["epsilon"]),
    ("dp_sum", &["lower", "upper", "epsilon"]),
    ("dp_mean", &["lower", "upper", "epsilon"]),
    ("dp_variance", &["lower", "upper", "epsilon"]),
    ("dp_stddev", &["lower", "upper", "epsilon"]),
    ("dp_median", &["lower", "upper", "epsilon"]),
    ("dp_quantile", &["q", "lower", "upper", "epsilon"]),
    ("dp_mode", &["candidates", "epsilon"]),
    ("dp_top_k", &["candidates", "k", "epsilon"]),
];

/// `dp_explain(function, params)`: the explanation, as JSON ([`Explanation::to_json`]), of
/// calling DP aggregate `function` with `params`, a JSON object with the call's constant
/// arguments (`lower`, `upper`, `epsilon`, `q`, `k`, `candidates` — an array of strings).
/// Depends only on the arguments, never on data, so it costs no privacy. Optional keys
/// give the session settings the call would run under ([`SETTINGS`]): `"noise":
/// "gaussian"` with `"delta"` for the aggregates that offer it, and the privacy unit's
/// `max_groups_contributed` / `max_rows_contributed` (the scales are then those each group
/// runs with, the cost the query's).
pub fn explain_call(function: &str, params: &str) -> Fallible<String> {
    let Some(&(name, keys)) = EXPLAINED.iter().find(|(n, _)| *n == function) else {
        let known: Vec<&str> = EXPLAINED.iter().map(|(n, _)| *n).collect();
        return Err(VeilError::invalid(
            "function",
            format!("must be one of {}, got {function:?}", known.join(", ")),
        ));
    };
    let params: Map<String, Value> = match serde_json::from_str(params) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(VeilError::invalid("params", "must be a JSON object")),
        Err(e) => {
            return Err(VeilError::invalid(
                "params",
                format!("must be a JSON object: {e}"),
            ))
        }
    };
    for key in params.keys() {
        if !keys.contains(&key.as_str()) && !SETTINGS.contains(&key.as_str()) {
            return Err(VeilError::invalid(
                format!("params.{key}"),
                format!(
                    "{name} takes only {}, and the settings {}",
                    keys.join(", "),
                    SETTINGS.join(", ")
                ),
            ));
        }
    }
    let get = |key: &'static str| -> Fallible<&Value> {
        params.get(key).ok_or_else(|| {
            VeilError::invalid(
                format!("params.{key}"),
                format!("missing ({name} needs {})", keys.join(", ")),
            )
        })
    };
    let number = |key: &'static str| -> Fallible<f64> {
        get(key)?
            .as_f64()
            .ok_or_else(|| VeilError::invalid(format!("params.{key}"), "must be a number"))
    };
    // Argument errors of the mechanisms name `epsilon`, `lower`, …: report them as keys.
    let in_params = |e: VeilError| match e {
        VeilError::InvalidArgument { argument, rule } if !argument.starts_with("params") => {
            VeilError::InvalidArgument {
                argument: format!("params.{argument}").into(),
                rule,
            }
        }
        other => other,
    };
    let epsilon = number("epsilon")?;
    // The session settings the call would run under (defaults: Laplace, one row per person).
    let noise = match params.get("noise") {
        None => {
            if params.contains_key("delta") {
                return Err(VeilError::invalid(
                    "params.delta",
                    "is the δ of Gaussian noise: give it with \"noise\": \"gaussian\"",
                ));
            }
            Noise::Laplace
        }
        Some(Value::String(n)) => {
            let delta = match params.get("delta") {
                None => None,
                Some(_) => Some(number("delta")?),
            };
            let noise = Noise::parse(n, delta).map_err(in_params)?;
            if noise != Noise::Laplace && !NOISE_CHOICE.contains(&name) {
                return Err(VeilError::invalid(
                    "params.noise",
                    format!("{name} uses the exponential mechanism whatever veil.noise says"),
                ));
            }
            if noise == Noise::Laplace && delta.is_some() {
                return Err(VeilError::invalid(
                    "params.delta",
                    "is the δ of Gaussian noise: give it with \"noise\": \"gaussian\"",
                ));
            }
            noise
        }
        Some(_) => return Err(VeilError::invalid("params.noise", "must be a string")),
    };
    let contributions = |key: &'static str| -> Fallible<u64> {
        match params.get(key) {
            None => Ok(1),
            Some(_) => {
                let v = number(key)?;
                if v.fract() != 0.0 || !(1.0..=1e6).contains(&v) {
                    return Err(VeilError::invalid(
                        format!("params.{key}"),
                        format!("must be a whole number from 1 to 1000000, got {v}"),
                    ));
                }
                Ok(v as u64)
            }
        }
    };
    let (groups, rows) = (
        contributions("max_groups_contributed")?,
        contributions("max_rows_contributed")?,
    );
    let explain_at = |epsilon: f64| -> Fallible<Explanation> {
        match name {
            "dp_count" => DpCountAccumulator::with_noise(epsilon, noise).and_then(|a| a.explain()),
            "dp_count_distinct" => {
                DpCountDistinctAccumulator::new(epsilon, noise).and_then(|a| a.explain())
            }
            "dp_sum" => BoundedSum::with_noise(number("lower")?, number("upper")?, epsilon, noise)
                .and_then(|m| m.explain()),
            "dp_mean" => {
                BoundedMean::with_noise(number("lower")?, number("upper")?, epsilon, noise)
                    .and_then(|m| m.explain())
            }
            "dp_variance" | "dp_stddev" => {
                let spread = if name == "dp_variance" {
                    Spread::Variance
                } else {
                    Spread::StdDev
                };
                BoundedVariance::new(number("lower")?, number("upper")?, epsilon, noise, spread)
                    .and_then(|m| m.explain())
            }
            "dp_median" => BoundedQuantile::median(number("lower")?, number("upper")?, epsilon)
                .and_then(|m| m.explain()),
            "dp_quantile" => {
                BoundedQuantile::new(number("q")?, number("lower")?, number("upper")?, epsilon)
                    .and_then(|m| m.explain())
            }
            _ => {
                let candidates = serde_json::to_string(get("candidates")?).expect("JSON value");
                let k = if name == "dp_top_k" {
                    let k = number("k")?;
                    if k.fract() != 0.0 || k.abs() > 1e15 {
                        return Err(VeilError::invalid(
                            "params.k",
                            format!("must be a whole number, got {k}"),
                        ));
                    }
                    k as i64
                } else {
                    1
                };
                TopK::from_sql(&candidates, k, epsilon).and_then(|t| t.explain())
            }
        }
    };
    let mut explanation = explain_at(epsilon).map_err(in_params)?;
    if (groups, rows) != (1, 1) {
        // Each group's aggregate runs with the unit's share; the query is charged ε.
        let share = Privacy::new(epsilon, noise)
            .and_then(|p| p.unit_epsilon(groups, rows))
            .map_err(in_params)?;
        let charged = explanation.cost;
        explanation = explain_at(share).map_err(in_params)?;
        explanation.cost = charged;
        explanation.meaning.push_str(&format!(
            " With a privacy unit contributing up to {rows} row(s) to each of up to {groups} group(s), each group's noise is that of epsilon {share} (the scales above); the cost is the query's, per unit."
        ));
    }
    explanation.function = name;
    Ok(explanation.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(function: &str, params: &str) -> Value {
        serde_json::from_str(&explain_call(function, params).unwrap()).unwrap()
    }

    #[test]
    fn explains_every_aggregate_with_its_scales() {
        let c = json("dp_count", r#"{"epsilon":0.5}"#);
        assert_eq!(c["function"], "dp_count");
        assert_eq!(c["parts"][0]["scale"], 2.0);
        assert_eq!(c["cost"]["epsilon"], 0.5);
        assert_eq!(c["cost"]["delta"], 0.0);
        assert!(c["cost"]["rho"].is_null());
        assert!(c["half_width_95"].as_f64().unwrap() > 0.0);
        assert!(c["meaning"].as_str().unwrap().contains("95%"));
        let s = json("dp_sum", r#"{"lower":-10,"upper":5,"epsilon":2}"#);
        assert!((s["parts"][0]["scale"].as_f64().unwrap() - 5.0).abs() < 1e-6);
        let m = json("dp_mean", r#"{"lower":0,"upper":100,"epsilon":1}"#);
        assert_eq!(m["parts"].as_array().unwrap().len(), 2);
        assert!(m["half_width_95"].is_null());
        let t = json(
            "dp_top_k",
            r#"{"candidates":["a","b","c"],"k":2,"epsilon":1}"#,
        );
        assert_eq!(t["function"], "dp_top_k");
        assert_eq!(t["parts"][0]["scale"], 2.0);
        let t1 = json("dp_top_k", r#"{"candidates":["a","b"],"k":1,"epsilon":1}"#);
        assert_eq!(t1["function"], "dp_top_k");
        assert_eq!(
            json("dp_mode", r#"{"candidates":["a"],"epsilon":1}"#)["function"],
            "dp_mode"
        );
        assert_eq!(
            json("dp_count_distinct", r#"{"epsilon":1}"#)["parts"][0]["scale"],
            1.0
        );
        for f in ["dp_variance", "dp_stddev", "dp_median"] {
            assert_eq!(
                json(f, r#"{"lower":0,"upper":1,"epsilon":1}"#)["function"],
                f
            );
        }
        let q = json(
            "dp_quantile",
            r#"{"q":0.9,"lower":0,"upper":1,"epsilon":1}"#,
        );
        assert_eq!(q["function"], "dp_quantile");
        // same parameters, same text: no data, no randomness
        assert_eq!(
            explain_call("dp_count", r#"{"epsilon":0.5}"#),
            explain_call("dp_count", r#"{"epsilon":0.5}"#)
        );
    }

    #[test]
    fn errors_name_the_function_or_key() {
        let msg = |f: &str, p: &str| explain_call(f, p).unwrap_err().to_string();
        assert!(msg("dp_avg", "{}").contains("`function`"));
        assert!(msg("dp_count", "[1]").contains("`params`"));
        assert!(msg("dp_count", "{").contains("`params`"));
        assert!(msg("dp_count", "{}").contains("`params.epsilon`: missing"));
        assert!(msg("dp_mean", r#"{"epsilon":1,"lower":0}"#).contains("`params.upper`: missing"));
        assert!(msg("dp_count", r#"{"epsilon":1,"q":0.5}"#).contains("`params.q`"));
        assert!(
            msg("dp_count", r#"{"epsilon":"1"}"#).contains("`params.epsilon`: must be a number")
        );
        assert!(msg("dp_count", r#"{"epsilon":0}"#).contains("`params.epsilon`: must be a finite"));
        assert!(msg("dp_mean", r#"{"lower":5,"upper":0,"epsilon":1}"#).contains("`params.lower`"));
        assert!(msg("dp_top_k", r#"{"candidates":["a"],"k":2,"epsilon":1}"#).contains("`params.k`"));
        assert!(
            msg("dp_top_k", r#"{"candidates":["a"],"k":1.5,"epsilon":1}"#).contains("`params.k`")
        );
        assert!(msg("dp_mode", r#"{"candidates":"a","epsilon":1}"#).contains("`params.candidates`"));
    }

    #[test]
    fn session_settings_give_the_noise_and_unit_scales_the_call_runs_with() {
        // Laplace with a unit of 3 rows: each group runs with ε / 3, the cost stays ε
        let c = json("dp_count", r#"{"epsilon":0.5,"max_rows_contributed":3}"#);
        assert!((c["parts"][0]["scale"].as_f64().unwrap() - 6.0).abs() < 1e-9);
        assert_eq!(c["cost"]["epsilon"], 0.5);
        assert!(c["meaning"].as_str().unwrap().contains("privacy unit"));
        let g = json(
            "dp_count",
            r#"{"epsilon":1,"max_groups_contributed":2,"max_rows_contributed":3}"#,
        );
        assert!((g["parts"][0]["scale"].as_f64().unwrap() - 6.0).abs() < 1e-9);

        // Gaussian: σ from ρ, charged (ε, δ, ρ); with a unit σ grows by √groups × rows
        let gauss = json(
            "dp_sum",
            r#"{"lower":0,"upper":10,"epsilon":1,"noise":"gaussian","delta":1e-6}"#,
        );
        assert_eq!(gauss["parts"][0]["mechanism"], "discrete Gaussian");
        assert_eq!(gauss["cost"]["delta"], 1e-6);
        assert!(gauss["cost"]["rho"].as_f64().unwrap() > 0.0);
        let unit = json(
            "dp_sum",
            r#"{"lower":0,"upper":10,"epsilon":1,"noise":"gaussian","delta":1e-6,"max_groups_contributed":4,"max_rows_contributed":3}"#,
        );
        let ratio = unit["parts"][0]["scale"].as_f64().unwrap()
            / gauss["parts"][0]["scale"].as_f64().unwrap();
        assert!((ratio - 6.0).abs() < 1e-3, "{ratio}");
        assert_eq!(unit["cost"], gauss["cost"]);

        let err = |f: &str, p: &str| explain_call(f, p).unwrap_err().to_string();
        assert!(err("dp_count", r#"{"epsilon":1,"noise":"gaussian"}"#).contains("delta"));
        assert!(err("dp_count", r#"{"epsilon":1,"delta":1e-6}"#).contains("params.delta"));
        assert!(err(
            "dp_count",
            r#"{"epsilon":1,"noise":"laplace","delta":1e-6}"#
        )
        .contains("params.delta"));
        assert!(err("dp_count", r#"{"epsilon":1,"noise":"cauchy"}"#).contains("params.noise"));
        assert!(err(
            "dp_median",
            r#"{"lower":0,"upper":1,"epsilon":1,"noise":"gaussian","delta":1e-6}"#
        )
        .contains("exponential mechanism"));
        assert!(err("dp_count", r#"{"epsilon":1,"max_rows_contributed":0}"#)
            .contains("params.max_rows_contributed"));
        assert!(
            err("dp_count", r#"{"epsilon":1,"max_groups_contributed":1.5}"#)
                .contains("params.max_groups_contributed")
        );
    }
}
