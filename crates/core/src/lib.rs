//! veil-core: the engine-agnostic privacy core of veil.
//!
//! * [`pii`] finds personal data in free text (recognizers with validators and context
//!   scoring) and replaces it (operators).
//! * [`mask`] rewrites detected values: redact, mask, keyed hash, annotate, keep.
//! * [`dp`] holds differentially private mechanisms built on OpenDP's exact samplers.
//!
//! Nothing here knows about Arrow, DataFusion or PostgreSQL: the engine crates are thin
//! adapters over these types, so both engines give the same answers.

pub mod dp;
pub mod error;
pub mod kanon;
pub mod mask;
pub mod pii;

pub use error::{Fallible, VeilError};
