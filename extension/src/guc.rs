//! Every veil setting, registered once when the library loads.

use std::ffi::CString;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use veil_core::mask::Secrets;

use crate::error::OrRaise;

/// `veil.hash_key`: key of the `hash` replacement strategy. Only superusers can set or see
/// it (PGC_SUSET, GUC_SUPERUSER_ONLY); put it in postgresql.conf or `ALTER SYSTEM`.
pub static HASH_KEY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

pub fn register() {
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
    let key = HASH_KEY.get();
    let key = key.as_ref().map(|k| k.to_string_lossy().into_owned());
    Secrets::new(key.as_deref()).or_raise(function)
}
