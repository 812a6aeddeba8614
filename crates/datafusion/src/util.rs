//! Shared helpers for the function implementations.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, GenericStringArray, OffsetSizeTrait, StringViewArray,
};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr::PhysicalExpr;

/// Applies `f` to every non-NULL string of a Utf8, LargeUtf8 or Utf8View value, keeping the
/// string type; NULL stays NULL. Scalars take a fast path without building arrays.
pub fn map_strings(
    function: &str,
    value: &ColumnarValue,
    f: impl Fn(&str) -> String,
) -> Result<ColumnarValue> {
    match value {
        ColumnarValue::Scalar(s) => {
            let out = match s {
                ScalarValue::Utf8(v) => ScalarValue::Utf8(v.as_deref().map(&f)),
                ScalarValue::LargeUtf8(v) => ScalarValue::LargeUtf8(v.as_deref().map(&f)),
                ScalarValue::Utf8View(v) => ScalarValue::Utf8View(v.as_deref().map(&f)),
                ScalarValue::Null => ScalarValue::Utf8(None),
                other => {
                    return exec_err!("{function}: expected a string, got {}", other.data_type())
                }
            };
            Ok(ColumnarValue::Scalar(out))
        }
        ColumnarValue::Array(array) => {
            let out: ArrayRef = match array.data_type() {
                DataType::Utf8 => map_generic::<i32>(array, &f),
                DataType::LargeUtf8 => map_generic::<i64>(array, &f),
                DataType::Utf8View => Arc::new(
                    array
                        .as_string_view()
                        .iter()
                        .map(|v| v.map(&f))
                        .collect::<StringViewArray>(),
                ),
                DataType::Null => Arc::new(GenericStringArray::<i32>::new_null(array.len())),
                other => return exec_err!("{function}: expected a string, got {other}"),
            };
            Ok(ColumnarValue::Array(out))
        }
    }
}

/// Like [`map_strings`] for a fallible `f`: the first error fails the call.
pub fn try_map_strings(
    function: &str,
    value: &ColumnarValue,
    f: impl Fn(&str) -> Result<String>,
) -> Result<ColumnarValue> {
    let failure = std::cell::RefCell::new(None);
    let out = map_strings(function, value, |s| match f(s) {
        Ok(v) => v,
        Err(e) => {
            failure.borrow_mut().get_or_insert(e);
            String::new()
        }
    })?;
    match failure.into_inner() {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn map_generic<O: OffsetSizeTrait>(array: &ArrayRef, f: &impl Fn(&str) -> String) -> ArrayRef {
    Arc::new(
        array
            .as_string::<O>()
            .iter()
            .map(|v| v.map(f))
            .collect::<GenericStringArray<O>>(),
    )
}

/// Evaluates an aggregate argument that must be the same for every row (a literal or an
/// expression without column references). Returns `None` when it refers to columns.
pub fn constant_argument(expr: &Arc<dyn PhysicalExpr>) -> Result<Option<ScalarValue>> {
    if !collect_columns(expr).is_empty() {
        return Ok(None);
    }
    let batch = RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    Ok(Some(match expr.evaluate(&batch)? {
        ColumnarValue::Scalar(s) => s,
        ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0)?,
    }))
}

/// Reads a constant numeric aggregate argument as f64 for SQL function `function`.
pub fn constant_f64(function: &str, name: &str, expr: &Arc<dyn PhysicalExpr>) -> Result<f64> {
    use datafusion::common::plan_err;
    match constant_argument(expr)? {
        Some(v) if v.is_null() => {
            plan_err!("{function}: invalid argument `{name}`: must not be NULL")
        }
        Some(v) if v.data_type().is_numeric() => match v.cast_to(&DataType::Float64)? {
            ScalarValue::Float64(Some(x)) => Ok(x),
            other => {
                plan_err!("{function}: invalid argument `{name}`: cannot read {other} as a number")
            }
        },
        Some(other) => plan_err!(
            "{function}: invalid argument `{name}`: expected a number, got {}",
            other.data_type()
        ),
        None => plan_err!(
            "{function}: invalid argument `{name}`: must be a constant, not a column expression"
        ),
    }
}

/// The return type of a text → text function: the argument's string type (NULL → Utf8).
pub fn string_return_type(function: &str, argument: &str, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(t.clone()),
        DataType::Null => Ok(DataType::Utf8),
        other => exec_err!("{function}: argument `{argument}` must be a string, got {other}"),
    }
}

/// The `epsilon` argument at `index`, or — when the call has no such argument — the
/// `veil.epsilon` setting. [`crate::config::DefaultEpsilon`] inserts the setting as a literal
/// at planning time, so reaching here without the argument means the setting is unset.
pub fn epsilon_arg(function: &str, exprs: &[Arc<dyn PhysicalExpr>], index: usize) -> Result<f64> {
    match exprs.get(index) {
        Some(e) => constant_f64(function, "epsilon", e),
        None => veil_core::dp::default_epsilon(None).map_err(|e| crate::to_df_error(function, e)),
    }
}

/// The arguments of a scalar call as arrays of `number_rows` rows.
pub fn arg_arrays(args: &datafusion::logical_expr::ScalarFunctionArgs) -> Result<Vec<ArrayRef>> {
    args.args
        .iter()
        .map(|a| a.to_array(args.number_rows))
        .collect()
}

/// The noise a DP aggregate instance draws: Laplace (the default), or Gaussian with δ when
/// the session sets `veil.noise = 'gaussian'` (the charge rule then swaps in an instance
/// with that choice). Hashable, unlike [`veil_core::dp::Noise`] (δ kept as its bits).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NoiseChoice(Option<u64>);

impl NoiseChoice {
    pub fn get(self) -> veil_core::dp::Noise {
        match self.0 {
            None => veil_core::dp::Noise::Laplace,
            Some(bits) => veil_core::dp::Noise::Gaussian {
                delta: f64::from_bits(bits),
            },
        }
    }
}

impl From<veil_core::dp::Noise> for NoiseChoice {
    fn from(noise: veil_core::dp::Noise) -> Self {
        match noise {
            veil_core::dp::Noise::Laplace => NoiseChoice(None),
            veil_core::dp::Noise::Gaussian { delta } => NoiseChoice(Some(delta.to_bits())),
        }
    }
}
