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
    DpCountDistinctAccumulator, Noise, PrivacyCost, Spread, TopK,
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
/// Depends only on the arguments, never on data, so it costs no privacy. The noise is the
/// aggregates' (discrete Laplace, or permute-and-flip for selections).
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
        if !keys.contains(&key.as_str()) {
            return Err(VeilError::invalid(
                format!("params.{key}"),
                format!("{name} takes only {}", keys.join(", ")),
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
        VeilError::InvalidArgument { argument, rule } => VeilError::InvalidArgument {
            argument: format!("params.{argument}").into(),
            rule,
        },
        other => other,
    };
    let epsilon = number("epsilon")?;
    let explanation =
        match name {
            "dp_count" => DpCountAccumulator::new(epsilon).and_then(|a| a.explain()),
            "dp_count_distinct" => {
                DpCountDistinctAccumulator::new(epsilon, Noise::Laplace).and_then(|a| a.explain())
            }
            "dp_sum" => BoundedSum::new(number("lower")?, number("upper")?, epsilon)
                .and_then(|m| m.explain()),
            "dp_mean" => BoundedMean::new(number("lower")?, number("upper")?, epsilon)
                .and_then(|m| m.explain()),
            "dp_variance" | "dp_stddev" => {
                let spread = if name == "dp_variance" {
                    Spread::Variance
                } else {
                    Spread::StdDev
                };
                BoundedVariance::new(
                    number("lower")?,
                    number("upper")?,
                    epsilon,
                    Noise::Laplace,
                    spread,
                )
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
        };
    let mut explanation = explanation.map_err(in_params)?;
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
}
