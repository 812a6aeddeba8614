//! Every veil setting, registered once when the library loads.

use std::ffi::CString;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use veil_core::mask::Secrets;

use crate::error::OrRaise;

/// `veil.hash_key`: key of the `hash` replacement strategy. Only superusers can set or see
/// it (PGC_SUSET, GUC_SUPERUSER_ONLY); put it in postgresql.conf or `ALTER SYSTEM`.
pub static HASH_KEY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// `veil.encryption_key`: key of the `encrypt` strategy and `decrypt_pii`, like
/// `veil.hash_key` settable and visible only by superusers.
pub static ENCRYPTION_KEY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// `veil.epsilon`: epsilon of DP aggregates called without one. Text, so that unset is
/// distinguishable and bad values get veil's own error; any user may set it.
pub static EPSILON: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// `veil.delta`: δ of DP partition selection (GROUP BY with DP aggregates). Text, like
/// `veil.epsilon`; unset: such queries are refused.
pub static DELTA: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// `veil.partition_epsilon`: ε of DP partition selection; unset: the largest ε of the
/// grouped DP aggregates.
pub static PARTITION_EPSILON: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);

/// `veil.noise`: 'laplace' (default) or 'gaussian' (δ from `veil.delta`) for dp_count,
/// dp_count_distinct, dp_sum, dp_mean, dp_variance and dp_stddev.
pub static NOISE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

pub fn register() {
    GucRegistry::define_string_guc(
        c"veil.noise",
        c"Noise of dp_count, dp_count_distinct, dp_sum, dp_mean, dp_variance and dp_stddev: laplace or gaussian.",
        c"Unset: laplace (epsilon-DP). gaussian gives (epsilon, delta)-DP with delta from veil.delta and composes in rho under zcdp budgets.",
        &NOISE,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"veil.delta",
        c"Delta of DP partition selection: a GROUP BY with DP aggregates releases only the groups that pass it.",
        c"Unset by default: grouped DP queries are refused until it is set.",
        &DELTA,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"veil.partition_epsilon",
        c"Epsilon of DP partition selection.",
        c"Unset by default: the largest epsilon among the grouped DP aggregates.",
        &PARTITION_EPSILON,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"veil.epsilon",
        c"Epsilon of veil's DP aggregates when a call leaves it out, e.g. dp_mean(x, 0, 100).",
        c"Unset by default: such calls are refused until it is set.",
        &EPSILON,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"veil.encryption_key",
        c"Key of veil's encrypt strategy and decrypt_pii (AES-256-SIV), at least 16 bytes.",
        c"Only superusers can set or read it. Without it encrypt and decrypt_pii are refused.",
        &ENCRYPTION_KEY,
        GucContext::Suset,
        GucFlags::SUPERUSER_ONLY | GucFlags::NO_SHOW_ALL,
    );
    GucRegistry::define_string_guc(
        c"veil.hash_key",
        c"Key of veil's hash replacement strategy (HMAC-SHA256), at least 16 bytes.",
        c"Only superusers can set or read it. Without it the hash strategy is refused.",
        &HASH_KEY,
        GucContext::Suset,
        GucFlags::SUPERUSER_ONLY | GucFlags::NO_SHOW_ALL,
    );
}

/// The secrets configured for this backend.
pub fn secrets(function: &str) -> Secrets {
    let text = |s: Option<CString>| s.map(|k| k.to_string_lossy().into_owned());
    let hash_key = text(HASH_KEY.get());
    let encryption_key = text(ENCRYPTION_KEY.get());
    Secrets::new(hash_key.as_deref())
        .and_then(|s| s.with_encryption_key(encryption_key.as_deref()))
        .or_raise(function)
}

/// A numeric text setting: None when unset or empty; raises when it is not a number.
fn number(
    setting: &GucSetting<Option<CString>>,
    name: &'static str,
    function: &str,
) -> Option<f64> {
    let text = setting
        .get()
        .map(|s| s.to_string_lossy().trim().to_string())
        .filter(|s| !s.is_empty());
    text.map(|t| {
        t.parse::<f64>()
            .map_err(|_| {
                veil_core::VeilError::invalid(name, format!("must be a number, got {t:?}"))
            })
            .or_raise(function)
    })
}

/// The `veil.epsilon` setting for an aggregate called without epsilon; raises when it is
/// unset, not a number, or not a valid epsilon.
pub fn epsilon(function: &str) -> f64 {
    let value = number(&EPSILON, "veil.epsilon", function);
    veil_core::dp::default_epsilon(value).or_raise(function)
}

/// The `veil.noise` setting; raises when it is not a noise or gaussian lacks `veil.delta`.
pub fn noise(function: &str) -> veil_core::dp::Noise {
    let name = NOISE
        .get()
        .map(|s| s.to_string_lossy().trim().to_string())
        .filter(|s| !s.is_empty());
    match name {
        None => veil_core::dp::Noise::Laplace,
        Some(name) => veil_core::dp::Noise::parse(&name, delta(function)).or_raise("veil.noise"),
    }
}

/// `veil.delta`, if set.
pub fn delta(function: &str) -> Option<f64> {
    number(&DELTA, "veil.delta", function)
}

/// `veil.partition_epsilon`, if set.
pub fn partition_epsilon(function: &str) -> Option<f64> {
    number(&PARTITION_EPSILON, "veil.partition_epsilon", function)
}
