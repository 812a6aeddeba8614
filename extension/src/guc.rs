//! Every veil setting, registered once when the library loads.

use std::ffi::CString;

use pgrx::{pg_guard, pg_sys, GucContext, GucFlags, GucRegistry, GucSetting};
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

/// A text setting's value: None when unset or empty.
fn text(setting: &GucSetting<Option<CString>>) -> Option<String> {
    setting
        .get()
        .map(|s| s.to_string_lossy().trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A numeric text setting: None when unset or empty; raises when it is not a number.
fn number(text: Option<&str>, name: &'static str, function: &str) -> Option<f64> {
    text.map(|t| {
        t.parse::<f64>()
            .map_err(|_| {
                veil_core::VeilError::invalid(name, format!("must be a number, got {t:?}"))
            })
            .or_raise(function)
    })
}

/// The settings that decide a DP release (`veil.epsilon`, `veil.delta`, `veil.noise`) as
/// one query execution sees them: read at the execution's first read and kept until the
/// execution's memory goes away. A query that changes them while it runs (`set_config` in
/// a WHERE clause, or in the select list of a grouped query between one group's release
/// and the next group's first row) cannot make a group release with other parameters
/// than the ones the query was charged for.
#[derive(Clone, Copy)]
pub struct Run(Option<usize>);

#[derive(Clone)]
struct Pinned {
    epsilon: Option<String>,
    delta: Option<String>,
    noise: Option<String>,
}

impl Pinned {
    fn now() -> Self {
        Pinned {
            epsilon: text(&EPSILON),
            delta: text(&DELTA),
            noise: text(&NOISE),
        }
    }
}

thread_local! {
    static PINNED: std::cell::RefCell<Vec<(usize, Pinned)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

#[pg_guard]
unsafe extern "C-unwind" fn unpin(arg: *mut std::ffi::c_void) {
    let key = arg as usize;
    PINNED.with(|p| p.borrow_mut().retain(|(k, _)| *k != key));
}

/// Calls `func(estate)` when the memory of the execution `estate` is freed (its end or
/// its abort), so that per-execution state keyed by the EState's address never outlives it.
pub unsafe fn at_execution_end(
    estate: *mut pg_sys::EState,
    func: unsafe extern "C-unwind" fn(*mut std::ffi::c_void),
) {
    let cb = pg_sys::MemoryContextAlloc(
        (*estate).es_query_cxt,
        std::mem::size_of::<pg_sys::MemoryContextCallback>(),
    ) as *mut pg_sys::MemoryContextCallback;
    (*cb).func = Some(func);
    (*cb).arg = estate as *mut std::ffi::c_void;
    (*cb).next = std::ptr::null_mut();
    pg_sys::MemoryContextRegisterResetCallback((*estate).es_query_cxt, cb);
}

impl Run {
    /// The execution of the Agg node calling an aggregate support function; outside an
    /// aggregation (window use, which the final functions refuse) the current settings.
    pub fn of(fcinfo: pg_sys::FunctionCallInfo) -> Run {
        // SAFETY: fcinfo is the live call info; context is checked by tag before the cast.
        unsafe {
            let context = if fcinfo.is_null() {
                std::ptr::null_mut()
            } else {
                (*fcinfo).context
            };
            if context.is_null() || (*context).type_ != pg_sys::NodeTag::T_AggState {
                return Run(None);
            }
            Run::estate((*(context as *mut pg_sys::AggState)).ss.ps.state)
        }
    }

    /// The execution `estate` (null: the current settings).
    pub fn estate(estate: *mut pg_sys::EState) -> Run {
        if estate.is_null() {
            return Run(None);
        }
        let key = estate as usize;
        if !PINNED.with(|p| p.borrow().iter().any(|(k, _)| *k == key)) {
            // SAFETY: estate is the EState of an executing plan node.
            unsafe { at_execution_end(estate, unpin) };
            PINNED.with(|p| p.borrow_mut().push((key, Pinned::now())));
        }
        Run(Some(key))
    }

    /// Outside an execution (the parse hook): the current settings.
    pub fn now() -> Run {
        Run(None)
    }

    fn settings(self) -> Pinned {
        let pinned = self.0.and_then(|key| {
            PINNED.with(|p| {
                p.borrow()
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, s)| s.clone())
            })
        });
        pinned.unwrap_or_else(Pinned::now)
    }

    /// `veil.epsilon` for an aggregate called without epsilon; raises when it is unset,
    /// not a number, or not a valid epsilon.
    pub fn epsilon(self, function: &str) -> f64 {
        let value = number(self.settings().epsilon.as_deref(), "veil.epsilon", function);
        veil_core::dp::default_epsilon(value).or_raise(function)
    }

    /// `veil.noise`; raises when it is not a noise or gaussian lacks `veil.delta`.
    pub fn noise(self, function: &str) -> veil_core::dp::Noise {
        let settings = self.settings();
        match settings.noise {
            None => veil_core::dp::Noise::Laplace,
            Some(name) => {
                let delta = number(settings.delta.as_deref(), "veil.delta", function);
                veil_core::dp::Noise::parse(&name, delta).or_raise("veil.noise")
            }
        }
    }

    /// `veil.delta`, if set.
    pub fn delta(self, function: &str) -> Option<f64> {
        number(self.settings().delta.as_deref(), "veil.delta", function)
    }
}

/// `veil.partition_epsilon`, if set.
pub fn partition_epsilon(function: &str) -> Option<f64> {
    number(
        text(&PARTITION_EPSILON).as_deref(),
        "veil.partition_epsilon",
        function,
    )
}
