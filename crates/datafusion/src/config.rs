//! veil's session settings, set with `SET veil.<name> = '…'`.
//!
//! Embedded DataFusion trusts its caller: whoever can run SQL in the session can set and
//! read these (`SHOW veil.hash_key`). Hosts that serve untrusted users must set them
//! themselves and not let users run `SET`.

use datafusion::common::config::{ConfigExtension, ConfigOptions};
use datafusion::common::{extensions_options, Result};
use veil_core::mask::Secrets;

use crate::to_df_error;

extensions_options! {
    /// veil settings (prefix `veil`).
    pub struct VeilConfig {
        /// Key of the `hash` replacement strategy (HMAC-SHA256), at least 16 bytes.
        pub hash_key: Option<String>, default = None
        /// Key of the `encrypt` strategy and `decrypt_pii` (AES-256-SIV), at least 16 bytes.
        pub encryption_key: Option<String>, default = None
    }
}

impl ConfigExtension for VeilConfig {
    const PREFIX: &'static str = "veil";
}

/// The secrets configured for this session.
pub fn secrets(function: &str, config: &ConfigOptions) -> Result<Secrets> {
    let veil = config.extensions.get::<VeilConfig>();
    Secrets::new(veil.and_then(|c| c.hash_key.as_deref()))
        .and_then(|s| s.with_encryption_key(veil.and_then(|c| c.encryption_key.as_deref())))
        .map_err(|e| to_df_error(function, e))
}
